"""Who may do what to an issue, as django-rules permissions (`user.has_perm("feedback.close_issue", issue)`)."""

import rules

from accounts.rules import has_capability

files_issues = has_capability("file_issues")
triages_issues = has_capability("triage_issues")


@rules.predicate
def is_reporter(user, issue) -> bool:
    return issue is not None and issue.reporter_id == user.pk


@rules.predicate
def is_routed_curator(user, issue) -> bool:
    """A curator acts on the issues routed (assigned) to them."""
    return issue is not None and issue.assignee_id == user.pk and user.has_perm("accounts.curate")


rules.add_perm("feedback.file_issue", files_issues)  # file, comment, watch
rules.add_perm("feedback.triage_issue", triages_issues)  # assign
rules.add_perm("feedback.work_issue", triages_issues | is_routed_curator)  # acknowledge, progress, resolve, act
rules.add_perm("feedback.close_issue", triages_issues | is_reporter)  # close, reopen
rules.add_perm("feedback.edit_issue", triages_issues | is_reporter)  # title, description, priority, due date, tags

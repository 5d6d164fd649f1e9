"""Filing, editing, moving and assigning issues; each change is on the timeline and in lineage."""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from lineage.models import Activity
from lineage.services import record_activity

from feedback.markdown import unsafe_markdown_problems
from feedback.models import DataIssue, IssueEvent, IssueKindDefault, IssueTag
from feedback.models.issues import MAX_DESCRIPTION
from feedback.services.events import bump, record_event, require
from feedback.services.targets import resolve_target
from steward.errors import InvalidInput, ServiceError

Status = DataIssue.Status

# Where each status may go by a plain transition; RESOLVED is reached through resolve_issue, which records how.
TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WONT_FIX, Status.CLOSED},
    Status.ACKNOWLEDGED: {Status.IN_PROGRESS, Status.WONT_FIX, Status.CLOSED},
    Status.IN_PROGRESS: {Status.ACKNOWLEDGED, Status.WONT_FIX, Status.CLOSED},
    Status.WAITING_SOURCE: {Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WONT_FIX, Status.CLOSED},
    Status.RESOLVED: {Status.CLOSED, Status.NEW},
    Status.WONT_FIX: {Status.CLOSED, Status.NEW},
    Status.CLOSED: {Status.NEW},
}
# The permission (feedback/rules.py) each target status needs; going back to NEW is a reopen.
TRANSITION_PERMISSION = {Status.ACKNOWLEDGED: "work_issue", Status.IN_PROGRESS: "work_issue", Status.WONT_FIX: "work_issue",
                         Status.CLOSED: "close_issue", Status.NEW: "close_issue"}
MAX_TAGS = 10


class TransitionRefused(ServiceError):
    pass


def clean_markdown(text: str, *, what: str, limit: int) -> str:
    """The text, or an InvalidInput when it is too long or carries script."""
    text = (text or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"The {what} is {len(text):,} characters; keep it to {limit:,}.")
    problems = unsafe_markdown_problems(text)
    if problems:
        raise InvalidInput(f"The {what} cannot be saved: {problems[0]}.", problems=problems)
    return text


def _title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise InvalidInput("Give the issue a title.")
    if len(title) > 200:
        raise InvalidInput("Keep the title to 200 characters.")
    return title


def _tags(names: list[str]) -> list[IssueTag]:
    slugs = sorted({slugify(n)[:50] for n in names or [] if slugify(n)})
    if len(slugs) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags.")
    for slug in slugs:
        IssueTag.objects.get_or_create(name=slug)
    return list(IssueTag.objects.filter(name__in=slugs))


@transaction.atomic
def file_issue(*, reporter: AbstractBaseUser, title: str, kind: str, target: dict, description: str = "",
               priority: int | None = None, expected_value: str = "", due_date: dt.date | None = None,
               tags: list[str] = ()) -> DataIssue:
    """File an issue on what `target` names (see resolve_target); the reporter watches it.

    The kind's defaults (admin) give the priority when none is chosen, and the first assignee.
    """
    require(reporter, "file_issue", None, "file issues")
    if kind not in DataIssue.Kind.values:
        raise InvalidInput(f"Unknown kind {kind!r}; choose one of: {', '.join(DataIssue.Kind.values)}.")
    defaults = IssueKindDefault.objects.select_related("assignee").filter(kind=kind).first()
    if priority is None:
        priority = defaults.priority if defaults else DataIssue.Priority.NORMAL
    # Checked again here: the default assignee may have left, or lost the role, since the admin chose them.
    assignee = defaults.assignee if defaults and defaults.assignee and defaults.assignee.is_active \
        and may_work_issues(defaults.assignee) else None
    issue = DataIssue.objects.create(
        reporter=reporter, title=_title(title), kind=kind, priority=priority, due_date=due_date, assignee=assignee,
        description=clean_markdown(description, what="description", limit=MAX_DESCRIPTION),
        expected_value=(expected_value or "")[:MAX_DESCRIPTION], **resolve_target(**target))
    issue.tags.set(_tags(tags))
    issue.watchers.add(reporter, *([assignee] if assignee else []))
    changes = {"status": [None, issue.status]}
    if assignee:
        changes["assignee"] = [None, assignee.username]
    record_event(issue, actor=reporter, kind=IssueEvent.Kind.FILED, changes=changes,
                 summary=f"filed: {issue.title}" + (f" (assigned to {assignee.username} by default)" if assignee else ""))
    return issue


def may_work_issues(user: AbstractBaseUser) -> bool:
    """Stewards and curators work on issues; nobody else can be an assignee."""
    return user.has_perm("accounts.triage_issues") or user.has_perm("accounts.curate")


@transaction.atomic
def set_kind_default(*, actor: AbstractBaseUser, kind: str, priority: int = DataIssue.Priority.NORMAL,
                     assignee: AbstractBaseUser | None = None) -> IssueKindDefault:
    """Set what new issues of a kind start with: priority and (optionally) an assignee who can work on them."""
    if kind not in DataIssue.Kind.values:
        raise InvalidInput(f"Unknown kind {kind!r}; choose one of: {', '.join(DataIssue.Kind.values)}.")
    if priority not in DataIssue.Priority.values:
        raise InvalidInput(f"Unknown priority {priority!r}.")
    if assignee is not None and not (assignee.is_active and may_work_issues(assignee)):
        raise InvalidInput(f"{assignee.username} is neither an active steward nor a curator, so cannot be the default assignee.")
    row, _ = IssueKindDefault.objects.update_or_create(kind=kind, defaults={"priority": priority, "assignee": assignee})
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, outputs=[row],
                    summary=f"Defaults for {DataIssue.Kind(kind).label}: priority {DataIssue.Priority(priority).label}, "
                            f"assignee {assignee.username if assignee else 'nobody'}",
                    parameters={"kind": kind, "priority": priority, "assignee": assignee.username if assignee else None})
    return row


@transaction.atomic
def remove_kind_default(*, actor: AbstractBaseUser, default: IssueKindDefault) -> None:
    """Forget a kind's defaults: its new issues start unassigned at normal priority."""
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Defaults for {default.get_kind_display()} removed",
                    parameters={"kind": default.kind})
    default.delete()


EDITABLE = ("title", "description", "priority", "due_date", "expected_value")


@transaction.atomic
def edit_issue(*, issue: DataIssue, user: AbstractBaseUser, version: int, tags: list[str] | None = None, **changes) -> DataIssue:
    """Change title, description, priority, due date, expected value or tags, if nobody changed the issue meanwhile."""
    require(user, "edit_issue", issue, "edit this issue")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"These cannot be edited here: {', '.join(sorted(unknown))}.")
    if "title" in changes:
        changes["title"] = _title(changes["title"])
    if "description" in changes:
        changes["description"] = clean_markdown(changes["description"], what="description", limit=MAX_DESCRIPTION)
    diff = {name: [getattr(issue, name), value] for name, value in changes.items() if getattr(issue, name) != value}
    old_tags = sorted(t.name for t in issue.tags.all())
    issue = bump(issue, version=version, **changes)
    if tags is not None:
        issue.tags.set(_tags(tags))
        new_tags = sorted(t.name for t in issue.tags.all())
        if new_tags != old_tags:
            diff["tags"] = [", ".join(old_tags), ", ".join(new_tags)]
    record_event(issue, actor=user, kind=IssueEvent.Kind.EDITED, changes=diff,
                 summary=f"edited {', '.join(diff) or 'nothing'}")
    return issue


@transaction.atomic
def transition_issue(*, issue: DataIssue, user: AbstractBaseUser, status: str, version: int, note: str = "") -> DataIssue:
    """Move the issue along its workflow (acknowledge, start, won't fix, close, reopen)."""
    if status == Status.RESOLVED:
        raise TransitionRefused("Resolve an issue with a resolution (an action, or none), not a plain status change.")
    if status not in TRANSITIONS.get(issue.status, set()):
        raise TransitionRefused(f"Issue #{issue.pk} is {issue.get_status_display().lower()}; it cannot go to "
                                f"{Status(status).label.lower() if status in Status.values else repr(status)}.")
    require(user, TRANSITION_PERMISSION[status], issue, f"move this issue to {Status(status).label.lower()}")
    note = clean_markdown(note, what="note", limit=MAX_DESCRIPTION)
    fields: dict = {"status": status}
    if status == Status.ACKNOWLEDGED and issue.acknowledged_at is None:
        fields["acknowledged_at"] = timezone.now()
    if status == Status.WONT_FIX:
        fields.update(resolution_note=note, resolved_at=timezone.now(), resolved_by=user)
    if status == Status.NEW:  # reopened: the earlier outcome no longer stands
        fields.update(resolution="", resolution_note="", resolved_at=None, resolved_by=None)
    before = issue.status
    issue = bump(issue, version=version, **fields)
    if before == Status.WAITING_SOURCE:
        from feedback.services.corrections import withdraw_corrections

        withdraw_corrections(issue)  # a person moved it on: a later batch no longer settles it
    verb = "reopened" if status == Status.NEW else f"moved to {issue.get_status_display().lower()}"
    record_event(issue, actor=user, kind=IssueEvent.Kind.STATUS, changes={"status": [before, status]},
                 summary=f"{verb}{': ' + note[:200] if note else ''}")
    return issue


@transaction.atomic
def assign_issue(*, issue: DataIssue, user: AbstractBaseUser, assignee: AbstractBaseUser | None, version: int) -> DataIssue:
    """Route the issue to someone (or to nobody); they start watching it."""
    require(user, "triage_issue", issue, "assign issues")
    if assignee is not None and not may_work_issues(assignee):
        raise InvalidInput(f"{assignee.username} is neither a steward nor a curator, so cannot work on issues.")
    before = issue.assignee.username if issue.assignee else None
    issue = bump(issue, version=version, assignee=assignee)
    if assignee is not None:
        issue.watchers.add(assignee)
    after = assignee.username if assignee else None
    record_event(issue, actor=user, kind=IssueEvent.Kind.ASSIGNED, changes={"assignee": [before, after]},
                 summary=f"assigned to {after}" if after else "unassigned")
    return issue


def find_user(username: str) -> AbstractBaseUser:
    """The active user of that name, or an InvalidInput naming it."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise InvalidInput(f"No user named {username!r}.")
    return user


@transaction.atomic
def watch_issue(*, issue: DataIssue, user: AbstractBaseUser, watching: bool = True) -> DataIssue:
    """Start or stop following an issue (no version needed: it changes only the user's own subscription)."""
    require(user, "file_issue", issue, "watch issues")
    if watching == issue.watchers.filter(pk=user.pk).exists():
        return issue
    (issue.watchers.add if watching else issue.watchers.remove)(user)
    event = IssueEvent.objects.create(issue=issue, actor=user, kind=IssueEvent.Kind.WATCH,
                                      changes={"watching": [not watching, watching]})
    record_activity(kind=Activity.Kind.ISSUE, actor=user, inputs=[issue], outputs=[event],
                    summary=f"Issue #{issue.pk}: {'watching' if watching else 'stopped watching'}")
    return issue


__all__ = ["TRANSITIONS", "TRANSITION_PERMISSION", "assign_issue", "edit_issue", "file_issue", "find_user", "remove_kind_default",
           "set_kind_default", "transition_issue", "watch_issue"]

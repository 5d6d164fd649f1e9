"""The bookkeeping every issue write shares: compare-and-set on the version, the timeline event, the Activity."""

from accounts.rules import ensure_allowed
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, Model
from django.utils import timezone

from feedback.models import Comment, DataIssue, IssueAction, IssueEvent
from lineage.models import Activity
from lineage.services import record_activity
from steward.errors import ServiceError


class StaleIssue(ServiceError):
    """Someone changed the issue after the caller read it."""


def require(user: AbstractBaseUser, permission: str, issue: DataIssue | None, doing: str) -> None:
    """Refuse unless the user holds the feedback permission (see feedback/rules.py)."""
    ensure_allowed(user, f"feedback.{permission}", issue, message=f"Your role does not allow you to {doing}.")


def bump(issue: DataIssue, *, version: int, **fields) -> DataIssue:
    """Write fields only if the issue is still at `version`, raising it by one; refuse a stale edit."""
    # Compare-and-set: two people editing from the same version cannot both win, on SQLite and PostgreSQL alike.
    updated = DataIssue.objects.filter(pk=issue.pk, version=version).update(
        version=F("version") + 1, updated_at=timezone.now(), **fields)
    if updated != 1:
        current = DataIssue.objects.filter(pk=issue.pk).values_list("version", flat=True).first()
        raise StaleIssue(f"Someone changed issue #{issue.pk} since you opened it (your version {version}, "
                         f"now {current}); reload it and try again.")
    issue.refresh_from_db()
    return issue


def record_event(issue: DataIssue, *, actor: AbstractBaseUser | None, kind: str, changes: dict | None = None,
                 comment: Comment | None = None, action: IssueAction | None = None, summary: str,
                 outputs: list[Model] = (), mentioned=()) -> IssueEvent:
    """Add the change to the issue's timeline and lineage (as `event.activity`), and tell who follows the issue."""
    from feedback.services import notifications, webhooks

    changes = {name: [_jsonable(before), _jsonable(after)] for name, (before, after) in (changes or {}).items()}
    event = IssueEvent.objects.create(issue=issue, actor=actor, kind=kind, changes=changes, comment=comment,
                                      action=action)
    event.activity = record_activity(kind=Activity.Kind.ISSUE, actor=actor, summary=f"Issue #{issue.pk}: {summary}",
                    inputs=[issue], outputs=[event, *outputs], parameters={"event": kind, "changes": changes})
    notifications.notify(event, text=f"#{issue.pk} {summary}"[:300], mentioned=mentioned)
    webhooks.queue_webhooks(event)
    return event


def _jsonable(value):
    """A change's value as the timeline stores it: dates and the like as text."""
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)

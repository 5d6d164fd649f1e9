"""Reads of issues, scoped to what the viewer may see, with what their pages and API rows show loaded."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from feedback.models import Comment, DataIssue, IssueAction, IssueEvent, Notification


def list_issues(*, viewer: AbstractBaseUser) -> QuerySet[DataIssue]:
    """Issues the viewer may see (every signed-in user sees every source today), newest first."""
    if not viewer.is_authenticated:
        return DataIssue.objects.none()
    return DataIssue.objects.select_related(
        "reporter", "assignee", "entity_type", "entity__entity_type", "attribute", "source", "record__source",
        "other_record__source",
    ).prefetch_related("tags")


def get_issue(*, viewer: AbstractBaseUser, pk: int) -> DataIssue:
    """One issue the viewer may see, or DataIssue.DoesNotExist (a 404: never say an unseen issue exists)."""
    return list_issues(viewer=viewer).prefetch_related("watchers").get(pk=pk)


def timeline(*, issue: DataIssue) -> QuerySet[IssueEvent]:
    """The issue's events, oldest first, with their comments and actions."""
    return (IssueEvent.objects.filter(issue=issue)
            .select_related("actor", "comment__author", "action__batch__source", "action__record__source")
            .prefetch_related("comment__mentions", "action__labels"))


def list_comments(*, issue: DataIssue) -> QuerySet[Comment]:
    """The issue's comments, oldest first, with authors and mentions."""
    return Comment.objects.filter(issue=issue).select_related("author").prefetch_related("mentions")


def list_actions(*, issue: DataIssue) -> QuerySet[IssueAction]:
    """What the issue's resolutions changed: edits, overrides and labels."""
    return (IssueAction.objects.filter(issue=issue)
            .select_related("edit", "override__attribute", "user", "activity", "batch__source", "record__source")
            .prefetch_related("labels__pair__left__source", "labels__pair__right__source"))


def unread_count(*, user: AbstractBaseUser) -> int:
    """How many of the user's notifications are unread (the bell's number)."""
    if not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def list_notifications(*, user: AbstractBaseUser) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(recipient=user).select_related("issue", "event__actor")

"""Tell the people who follow an issue what happened: in the app (the bell) and by email after the commit."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone

from feedback.models import IssueEvent, Notification


def followers(event: IssueEvent, mentioned=()) -> list[AbstractBaseUser]:
    """Reporter, assignee, watchers and anyone mentioned, except whoever caused the event."""
    issue = event.issue
    ids = {issue.reporter_id, issue.assignee_id, *issue.watchers.values_list("pk", flat=True), *(u.pk for u in mentioned)}
    ids.discard(None)
    ids.discard(event.actor_id)
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True).order_by("pk"))


def notify(event: IssueEvent, *, text: str, mentioned=()) -> list[Notification]:
    """One unread notification per follower, and an email to those with an address once the change is committed."""
    recipients = followers(event, mentioned)
    notes = Notification.objects.bulk_create(
        [Notification(recipient=user, issue=event.issue, event=event, text=text) for user in recipients])
    subject = f"[Steward] {' '.join(text.split())}"[:200]  # a header holds no line breaks
    mails = [(subject, _mail_body(event, text), settings.DEFAULT_FROM_EMAIL, [user.email])
             for user in recipients if user.email]
    if mails:
        transaction.on_commit(lambda: send_mass_mail(mails, fail_silently=True))
    return notes


def _mail_body(event: IssueEvent, text: str) -> str:
    who = event.actor.username if event.actor else "Steward"
    return f"{who}: {text}\n\nOpen the issue: {settings.STEWARD_BASE_URL}{event.issue.get_absolute_url()}\n"


@transaction.atomic
def mark_notifications_read(*, user: AbstractBaseUser, ids: list[int] | None = None) -> int:
    """Mark the user's unread notifications (all, or the given ones) read; returns how many."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())

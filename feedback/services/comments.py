"""Comments on issues, with @mentions."""

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from feedback.models import Comment, DataIssue, IssueEvent
from feedback.models.timeline import MAX_COMMENT
from feedback.services.events import record_event, require
from feedback.services.issues import clean_markdown
from steward.errors import InvalidInput

# @name, not part of an email address (a@b.c); usernames may hold letters, digits and @.+-_.
MENTION = re.compile(r"(?<![\w@.])@([\w.+-]+)")


def mentioned_users(text: str) -> list[AbstractBaseUser]:
    """The active users the text mentions by @username."""
    names = {name.rstrip(".") for name in MENTION.findall(text or "")}
    return list(get_user_model().objects.filter(username__in=names, is_active=True).order_by("username"))


@transaction.atomic
def comment_on_issue(*, issue: DataIssue, author: AbstractBaseUser, body: str) -> Comment:
    """Add a comment; mentioned people are notified, and the author starts watching."""
    require(author, "file_issue", issue, "comment on issues")
    body = clean_markdown(body, what="comment", limit=MAX_COMMENT)
    if not body:
        raise InvalidInput("The comment is empty.")
    comment = Comment.objects.create(issue=issue, author=author, body=body)
    mentions = mentioned_users(body)
    comment.mentions.set(mentions)
    issue.watchers.add(author)
    record_event(issue, actor=author, kind=IssueEvent.Kind.COMMENTED, comment=comment, outputs=[comment],
                 summary=f"{author.username} commented: {body[:120]}", mentioned=mentions)
    return comment

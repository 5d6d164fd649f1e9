"""Every write to issues goes through these functions."""

from feedback.services.comments import comment_on_issue
from feedback.services.events import StaleIssue
from steward.errors import NotAllowed
from feedback.services.issues import (TRANSITION_PERMISSION, TRANSITIONS, assign_issue, edit_issue, file_issue, find_user,
                                     remove_kind_default, set_kind_default, transition_issue, watch_issue)
from feedback.services.corrections import recheck_source_corrections
from feedback.services.webhooks import (delete_webhook_host, delete_webhook_subscription, redeliver_webhook, save_webhook_host,
                                        save_webhook_subscription)
from feedback.services.notifications import mark_notifications_read
from feedback.services.resolutions import ACTIONS_FOR_KIND, resolve_issue
from feedback.services.targets import resolve_target

__all__ = [
    "ACTIONS_FOR_KIND",
    "NotAllowed",
    "TRANSITIONS",
    "TRANSITION_PERMISSION",
    "StaleIssue",
    "assign_issue",
    "delete_webhook_host",
    "delete_webhook_subscription",
    "recheck_source_corrections",
    "redeliver_webhook",
    "remove_kind_default",
    "save_webhook_host",
    "save_webhook_subscription",
    "set_kind_default",
    "comment_on_issue",
    "edit_issue",
    "file_issue",
    "find_user",
    "mark_notifications_read",
    "resolve_issue",
    "resolve_target",
    "transition_issue",
    "watch_issue",
]

"""Data issues: tickets against entities, values, pairs, records and sources, with their timeline."""

from feedback.models.issues import DataIssue, IssueTag
from feedback.models.timeline import Comment, IssueAction, IssueEvent, Notification
from feedback.models.defaults import IssueKindDefault
from feedback.models.corrections import SourceCorrection
from feedback.models.webhooks import WebhookDelivery, WebhookHost, WebhookSubscription

__all__ = ["Comment", "DataIssue", "IssueAction", "IssueEvent", "IssueKindDefault", "IssueTag", "Notification",
           "SourceCorrection", "WebhookDelivery", "WebhookHost", "WebhookSubscription"]

"""Data issues: tickets against entities, values, pairs, records and sources, with their timeline."""

from feedback.models.issues import DataIssue, IssueTag
from feedback.models.timeline import Comment, IssueAction, IssueEvent, Notification

__all__ = ["Comment", "DataIssue", "IssueAction", "IssueEvent", "IssueTag", "Notification"]

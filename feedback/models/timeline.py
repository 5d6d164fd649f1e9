from django.conf import settings
from django.db import models

from feedback.models.issues import DataIssue
from steward.models import TimeStampedModel

MAX_COMMENT = 10_000


class Comment(TimeStampedModel):
    """A message on an issue; @username mentions notify that person."""

    issue = models.ForeignKey(DataIssue, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(help_text="Markdown, at most 10,000 characters.")
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on #{self.issue_id}"


class IssueAction(models.Model):
    """What a resolution did to the data: the edit or override it made and the labels it taught."""

    issue = models.ForeignKey(DataIssue, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=DataIssue.Resolution.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    edit = models.ForeignKey("mastering.ClusterEdit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    override = models.ForeignKey("mastering.ValueOverride", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    labels = models.ManyToManyField("curation.Label", blank=True, related_name="+")
    batch = models.ForeignKey("mastering.IngestBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="The batch that fixes a missing or outdated record (a link resolution).")
    record = models.ForeignKey("mastering.SourceRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               db_constraint=False, help_text="The record that fixes it (a link resolution).")
    entities = models.JSONField(default=list, blank=True, help_text="Entity ids the action changed or made.")
    activity = models.ForeignKey("lineage.Activity", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for #{self.issue_id}"


class IssueEvent(models.Model):
    """One change to an issue (who, when, what) — together they are its timeline."""

    class Kind(models.TextChoices):
        FILED = "filed", "Filed"
        EDITED = "edited", "Edited"
        STATUS = "status", "Status changed"
        ASSIGNED = "assigned", "Assigned"
        COMMENTED = "commented", "Commented"
        WATCH = "watch", "Watching changed"
        RESOLVED = "resolved", "Resolved with an action"
        RECHECKED = "rechecked", "Re-checked against the source"

    issue = models.ForeignKey(DataIssue, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    changes = models.JSONField(default=dict, blank=True, help_text="Field → [before, after].")
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action = models.ForeignKey(IssueAction, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.issue_id} {self.kind} by {self.actor}"


class Notification(models.Model):
    """Something about an issue a person follows, shown under the bell until read."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="issue_notifications")
    issue = models.ForeignKey(DataIssue, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(IssueEvent, on_delete=models.CASCADE, related_name="notifications")
    text = models.CharField(max_length=300)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"to {self.recipient}: {self.text}"

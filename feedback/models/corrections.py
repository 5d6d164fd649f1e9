from django.conf import settings
from django.db import models

from feedback.models.issues import DataIssue


class SourceCorrection(models.Model):
    """A wrong value the source's owner was asked to correct, re-checked whenever that record gets a new version."""

    class Outcome(models.TextChoices):
        WAITING = "waiting", "Waiting for the source"
        FIXED = "fixed", "Fixed as asked"
        CHANGED = "changed", "Changed, not as asked"
        WITHDRAWN = "withdrawn", "Withdrawn (the issue moved on)"

    issue = models.ForeignKey(DataIssue, on_delete=models.CASCADE, related_name="corrections")
    record = models.ForeignKey("mastering.SourceRecord", on_delete=models.CASCADE, related_name="+", db_constraint=False)
    field = models.CharField(max_length=100, help_text="The source field holding the wrong value.")
    value_when_requested = models.TextField(blank=True)
    expected_value = models.TextField(blank=True, help_text="What it should become; empty: any change is checked by a person.")
    record_version = models.PositiveIntegerField(help_text="The record's version when the correction was asked for.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.WAITING, db_index=True)
    checked_batch = models.ForeignKey("mastering.IngestBatch", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", help_text="The batch whose new version settled it.")
    created_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["issue"], condition=models.Q(outcome="waiting"),
                                               name="one_waiting_correction_per_issue")]

    def __str__(self) -> str:
        return f"correction of {self.field} on record {self.record_id} for #{self.issue_id}"

from django.conf import settings
from django.db import models

from feedback.models.issues import DataIssue


class IssueKindDefault(models.Model):
    """What a newly filed issue of one kind starts with, unless the reporter says otherwise."""

    kind = models.CharField(max_length=20, choices=DataIssue.Kind.choices, unique=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 help_text="Who new issues of this kind go to (a steward or a curator); empty: nobody.")
    priority = models.PositiveSmallIntegerField(choices=DataIssue.Priority.choices, default=DataIssue.Priority.NORMAL,
                                                help_text="Used when the reporter does not choose one.")

    class Meta:
        ordering = ["kind"]
        verbose_name = "issue kind default"

    def __str__(self) -> str:
        return f"defaults for {DataIssue.Kind(self.kind).label}"

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Activity(models.Model):
    """Who or what did what, when, with which parameters, reading and writing which objects."""

    class Kind(models.TextChoices):
        INGEST = "ingest", "Batch ingested"
        STREAM = "stream", "Record streamed"
        CONFIGURE = "configure", "Configuration changed"
        LABEL = "label", "Pair labeled"
        TRAIN = "train", "Model trained"
        MASTER = "master", "Mastering run"
        CLUSTER_EDIT = "cluster_edit", "Cluster edited"
        OVERRIDE = "override", "Golden value overridden"
        ISSUE = "issue", "Data issue"
        TASK = "task", "Task"

    kind = models.CharField(max_length=32, choices=Kind.choices, db_index=True)
    summary = models.CharField(max_length=300, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="activities",
        help_text="The person who acted, directly or by starting the job that acted.",
    )
    actor_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="A non-person actor, such as the job that ran.",
    )
    actor_id = models.CharField(max_length=64, blank=True)
    actor = GenericForeignKey("actor_type", "actor_id")
    parameters = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "activities"
        indexes = [models.Index(fields=["actor_type", "actor_id"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.summary}"

    def get_absolute_url(self) -> str:
        return reverse("lineage:activity-detail", args=[self.pk])


class ActivityObject(models.Model):
    """One object an activity read (input) or wrote (output)."""

    class Role(models.TextChoices):
        INPUT = "input", "Input"
        OUTPUT = "output", "Output"

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="links")
    role = models.CharField(max_length=8, choices=Role.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    label = models.CharField(max_length=200, help_text="The object's name when the activity happened.")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.role}: {self.label}"

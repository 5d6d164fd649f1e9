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


class RunEvent(models.Model):
    """One OpenLineage run event (START, COMPLETE, FAIL or ABORT of a job's run) as built, and its delivery."""

    class EventType(models.TextChoices):
        START = "START", "Started"
        COMPLETE = "COMPLETE", "Completed"
        FAIL = "FAIL", "Failed"
        ABORT = "ABORT", "Aborted"

    ENDINGS = (EventType.COMPLETE, EventType.FAIL, EventType.ABORT)

    class Delivery(models.TextChoices):
        OFF = "off", "Not sent (no OPENLINEAGE_URL)"
        PENDING = "pending", "Waiting to be sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Sending failed"

    run_id = models.UUIDField(db_index=True, help_text="The run's OpenLineage id, the same on all its events.")
    event_type = models.CharField(max_length=8, choices=EventType.choices)
    job_namespace = models.CharField(max_length=200)
    job_name = models.CharField(max_length=200, db_index=True)
    event_time = models.DateTimeField(db_index=True)
    document = models.JSONField(help_text="The event exactly as it is served and sent (OpenLineage JSON).")
    activity = models.ForeignKey(Activity, null=True, blank=True, on_delete=models.SET_NULL, related_name="run_events",
                                 help_text="The activity written with the run's end.")
    delivery = models.CharField(max_length=8, choices=Delivery.choices, default=Delivery.OFF)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, help_text="Why the last send failed.")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event_time", "id"]
        constraints = [
            # One START and exactly one ending per run, whoever ends it (its runner, a cancel, the sweep).
            models.UniqueConstraint(fields=["run_id"], condition=models.Q(event_type="START"), name="one_start_per_run"),
            models.UniqueConstraint(fields=["run_id"], condition=models.Q(event_type__in=["COMPLETE", "FAIL", "ABORT"]),
                                    name="one_end_per_run"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.job_name} ({self.run_id})"

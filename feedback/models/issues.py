from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from steward.models import TimeStampedModel

MAX_DESCRIPTION = 10_000


class IssueTag(models.Model):
    """A free label on issues ("q3-cleanup", "crm"), for finding them again."""

    name = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DataIssueQuerySet(models.QuerySet):
    def open(self) -> "DataIssueQuerySet":
        return self.filter(status__in=DataIssue.OPEN_STATUSES)

    def overdue(self, today=None) -> "DataIssueQuerySet":
        return self.open().filter(due_date__lt=today or timezone.localdate())


class DataIssue(TimeStampedModel):
    """A defect someone found in the data, on the exact thing it is about, and what was done about it."""

    class Kind(models.TextChoices):
        WRONG_VALUE = "wrong_value", "Wrong value"
        DUPLICATE = "duplicate", "Duplicate entities (should be one)"
        WRONGLY_MERGED = "wrongly_merged", "Wrongly merged (should be split)"
        MISSING_RECORD = "missing_record", "Missing record"
        OUTDATED = "outdated", "Outdated"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING_SOURCE = "waiting_source", "Waiting on the source"
        RESOLVED = "resolved", "Resolved"
        WONT_FIX = "wont_fix", "Won't fix"
        CLOSED = "closed", "Closed"

    class Priority(models.IntegerChoices):
        LOW = 1, "Low"
        NORMAL = 2, "Normal"
        HIGH = 3, "High"
        URGENT = 4, "Urgent"

    class Target(models.TextChoices):
        ENTITY = "entity", "Entity"
        VALUE = "value", "Golden value"
        PAIR = "pair", "Pair of records"
        RECORD = "record", "Source record"
        SOURCE = "source", "Source"

    class Resolution(models.TextChoices):
        MERGE = "merge", "Merged the entities"
        SPLIT = "split", "Split records out"
        OVERRIDE = "override", "Overrode the golden value"
        REQUEST_CORRECTION = "request_correction", "Asked the source's owner to correct it"
        FIXED_AT_SOURCE = "fixed_at_source", "Fixed at the source"
        LINK = "link", "Linked the batch or record that fixes it"
        NO_ACTION = "no_action", "Resolved without a data change"

    OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.WAITING_SOURCE)
    DONE_STATUSES = (Status.RESOLVED, Status.WONT_FIX)

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown; shown with raw HTML escaped and unsafe links refused.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW, db_index=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)

    target = models.CharField(max_length=10, choices=Target.choices)
    target_label = models.CharField(max_length=300, help_text="What the issue is about, as it read when filed.")
    entity_type = models.ForeignKey("mastering.EntityType", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    entity = models.ForeignKey("mastering.Entity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The live entity the issue is about (a merged-away id leads to its survivor).")
    attribute = models.ForeignKey("mastering.Attribute", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    value_when_filed = models.TextField(blank=True, help_text="The golden value the reporter saw.")
    expected_value = models.TextField(blank=True, help_text="What the reporter says the value should be.")
    source = models.ForeignKey("mastering.Source", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    record = models.ForeignKey("mastering.SourceRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               db_constraint=False)
    other_record = models.ForeignKey("mastering.SourceRecord", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", db_constraint=False, help_text="The second record of a pair.")

    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reported_issues")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_issues")
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="watched_issues")
    tags = models.ManyToManyField(IssueTag, blank=True, related_name="issues")
    due_date = models.DateField(null=True, blank=True)

    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(default=1, help_text="Raised by every change; an edit naming an older one is refused.")

    objects = DataIssueQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "priority"]), models.Index(fields=["assignee", "status"])]
        constraints = [
            models.CheckConstraint(condition=~Q(target="value") | Q(attribute__isnull=False, entity__isnull=False),
                                   name="value_issue_names_entity_and_attribute"),
            models.CheckConstraint(condition=~Q(target="pair") | Q(record__isnull=False, other_record__isnull=False),
                                   name="pair_issue_names_two_records"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("feedback:issue-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < timezone.localdate()

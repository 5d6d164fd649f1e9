"""Sources, their fields, ingest batches and versioned source records."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone

from mastering.ingest.limits import DEFAULT_VALUE_LENGTH, LONGEST_VALUE_LENGTH
from steward.models import TimeStampedModel

field_name_validator = RegexValidator(
    r"^[A-Za-z_][A-Za-z0-9_ .\-]{0,99}$",
    "Start with a letter or underscore; use letters, digits, spaces, dots, dashes or underscores.",
)


class Source(TimeStampedModel):
    """A system or file that supplies records of one shape."""

    class IngestMode(models.TextChoices):
        BATCH = "batch", "Batch (tables)"
        STREAM = "stream", "Stream (single records)"

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True, help_text="Used in URLs and the API.")
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_sources",
        help_text="Who to ask about this source's data.",
    )
    key_field = models.CharField(
        max_length=100, help_text="The field whose value identifies a record within this source."
    )
    active = models.BooleanField(default=True, help_text="Inactive sources refuse new data.")
    ingest_mode = models.CharField(max_length=10, choices=IngestMode.choices, default=IngestMode.BATCH)
    priority = models.IntegerField(
        default=0, help_text="Higher wins when a survivorship rule prefers one source over another."
    )
    # Empty by default: "NA" is also Namibia, "Na" a surname and "-" a real code, so a source opts in.
    missing_values = models.JSONField(
        default=list, blank=True,
        help_text="Cell values that mean 'no value' in this source's data, stored as empty (so a required field "
                  "holding one is rejected). A value matches when it is the whole cell, ignoring case and spaces "
                  "around it. Common choice: NA, N/A, null, None, -. Applies to data received from now on.",
    )

    # Offered in the admin and the API documentation; never applied unless chosen.
    COMMON_MISSING_VALUES = ("NA", "N/A", "null", "None", "-")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("mastering:source-detail", args=[self.slug])


class SourceField(models.Model):
    """One column of a source, with the type every value must have."""

    class Type(models.TextChoices):
        STRING = "string", "Text"
        INTEGER = "integer", "Whole number"
        DECIMAL = "decimal", "Decimal number"
        DATE = "date", "Date"
        DATETIME = "datetime", "Date and time"
        BOOLEAN = "boolean", "Yes/no"
        EMAIL = "email", "Email address"
        PHONE = "phone", "Phone number"

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=100, validators=[field_name_validator])
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.STRING)
    required = models.BooleanField(default=False, help_text="A row with this field empty is rejected.")
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0, help_text="Column order on pages and in exports.")
    max_length = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(LONGEST_VALUE_LENGTH)],
        help_text=f"Longest value accepted, in characters; blank for {DEFAULT_VALUE_LENGTH:,}. "
                  f"Raise it (up to {LONGEST_VALUE_LENGTH:,}) for long text such as product descriptions.",
    )

    class Meta:
        ordering = ["source", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "name"], name="unique_field_name_per_source")]

    def __str__(self) -> str:
        return f"{self.source.name}.{self.name}"

    @property
    def longest_value(self) -> int:
        """The longest value this field accepts, in characters."""
        return self.max_length or DEFAULT_VALUE_LENGTH


class IngestBatch(TimeStampedModel):
    """One table (or one streamed record) received for a source, and what it did."""

    class Channel(models.TextChoices):
        UPLOAD = "upload", "Upload page"
        API = "api", "REST API"
        COMMAND = "command", "Management command"
        STREAM = "stream", "Stream endpoint"

    class Mode(models.TextChoices):
        APPEND = "append", "Append: leave absent records alone"
        SNAPSHOT = "snapshot", "Snapshot: retire absent records"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        REJECTED = "rejected", "Rejected"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.REJECTED, Status.FAILED, Status.CANCELLED)

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="batches")
    # The job runs a table's batch (status, heartbeat, progress, cancel, sweep); a streamed record, written inside
    # its request, has none.
    job = models.OneToOneField("mastering.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="batch")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    file_name = models.CharField(max_length=255, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the bytes received.")
    size_bytes = models.BigIntegerField(default=0)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.APPEND)
    partial = models.BooleanField(default=False, help_text="Keep good rows and report bad ones, instead of all-or-nothing.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    received = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    retired = models.PositiveIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0, help_text="Progress while the batch runs.")
    rows_expected = models.PositiveIntegerField(null=True, blank=True,
                                                help_text="About how many rows the table has (from its lines), for progress.")
    problems = models.JSONField(default=list, blank=True, help_text="Rejected rows: row, column, value, reason.")
    problem_count = models.PositiveIntegerField(default=0, help_text="All problems, even beyond those stored.")
    warnings = models.JSONField(default=list, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    upload_path = models.CharField(max_length=500, blank=True, help_text="Where a queued upload waits for its job.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "ingest batches"

    def __str__(self) -> str:
        return f"{self.source.name} batch {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("mastering:batch-detail", args=[self.source.slug, self.pk])

    @property
    def counts(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("received", "created", "updated", "unchanged", "rejected", "retired")
        }

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def progress(self) -> float | None:
        """Share of the rows read so far (0..1), while the batch runs and that can be told."""
        if self.status != self.Status.RUNNING or not self.rows_expected:
            return None
        return min(self.rows_read / self.rows_expected, 1.0)

    @property
    def eta_seconds(self) -> int | None:
        """Seconds left at the pace so far, once there is a pace to go by."""
        progress = self.progress
        if progress is None or progress < 0.02 or progress >= 1 or self.started_at is None:
            return None
        elapsed = (timezone.now() - self.started_at).total_seconds()
        return round(elapsed * (1 - progress) / progress)


class SourceRecordQuerySet(models.QuerySet):
    def live(self) -> "SourceRecordQuerySet":
        return self.filter(retired=False)


class SourceRecord(models.Model):
    """The current state of one record of a source, identified by its key."""

    # The unique (source, key) index serves lookups by source, so the foreign key needs none of its own. Nor a
    # database constraint: checking it per row was a third of a large load's time, ingest writes only while it holds
    # the source's row lock, and PROTECT keeps a source with records from being deleted.
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="records", db_index=False,
                               db_constraint=False)
    key = models.CharField(max_length=255)
    data = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=32, help_text="Hash of the data; an equal hash means no new version.")
    version = models.PositiveIntegerField(default=1)
    retired = models.BooleanField(default=False, help_text="Absent from the last snapshot of its source.")
    # Batches are never deleted (admin cannot, no service does), so these references are kept by the app rather than
    # by database constraints: checking foreign keys per row was most of a large ingest's write time.
    # When a batch re-sends a record unchanged the record is not written at all: see BatchSighting.
    first_batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    changed_batch = models.ForeignKey(
        IngestBatch, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False,
        help_text="The batch that wrote the current version.",
    )
    file_row = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Row of the changed batch's table that wrote the current version, numbered as its problem report is "
                  "(a CSV header is row 1, the first record row 2; JSON items likewise). Blank for a retirement, "
                  "or a version written before rows were kept.",
    )
    # Database defaults, so a bulk COPY can leave them out: parsing two timestamps per row was a tenth of its time.
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    objects = SourceRecordQuerySet.as_manager()

    class Meta:
        ordering = ["source", "key"]
        constraints = [models.UniqueConstraint(fields=["source", "key"], name="unique_record_key_per_source")]

    def __str__(self) -> str:
        return f"{self.source.name}:{self.key}"

    def get_absolute_url(self) -> str:
        return reverse("mastering:record-detail", args=[self.source.slug, self.key])


class SourceRecordVersion(models.Model):
    """A past or current state of a record; lineage points at these."""

    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=32)
    retired = models.BooleanField(default=False)
    batch = models.ForeignKey(IngestBatch, on_delete=models.PROTECT, related_name="versions", db_index=False)
    file_row = models.PositiveIntegerField(null=True, blank=True, help_text="Row of the batch's table that wrote this version.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["record", "-version"]
        constraints = [models.UniqueConstraint(fields=["record", "version"], name="unique_version_per_record")]

    def __str__(self) -> str:
        return f"{self.record} v{self.version}"


class BatchSighting(models.Model):
    """Records a batch mentioned without changing them, as a run of consecutive record ids.

    Re-sending a million unchanged rows then writes a row or a few here instead of rewriting
    a million records; a record's last sighting is the newest batch whose run holds its id.
    """

    batch = models.ForeignKey(IngestBatch, on_delete=models.CASCADE, related_name="sightings")
    first_record_id = models.BigIntegerField()
    last_record_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["first_record_id", "last_record_id"], name="sighting_record_range")]

    def __str__(self) -> str:
        return f"batch {self.batch_id} saw records {self.first_record_id}–{self.last_record_id}"

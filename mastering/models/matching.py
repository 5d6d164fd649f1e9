"""Entity types, their attributes and mappings from source fields, match models and jobs."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from mastering.models.sources import Source, SourceField
from steward.models import TimeStampedModel


class EntityType(TimeStampedModel):
    """A kind of real-world thing (Person, Publication) that records of several sources describe."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    match_threshold = models.FloatField(
        # Blank by default: the bar belongs with the model, which sets it from how it was trained (0.5, or 0.4 when
        # linking clean tables); a value here is a deliberate override. See mastering.selectors.match_threshold_for.
        null=True, blank=True, default=None, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Pairs scoring above this are clustered together by the next run. "
                  "Blank: use the active model's own threshold, suggested by its training.",
    )
    retrain_every = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)],
                                                help_text="Retrain automatically after this many new labels.")
    overlap = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Independent answers each pair collects; above 1, disagreements go to stewards.",
    )
    blind = models.BooleanField(default=False, help_text="Hide the model's score from curators while they label.")
    one_per_source = models.BooleanField(
        default=False, help_text="An entity holds at most one record of each source (linking clean tables).",
    )
    training_sample_size = models.PositiveIntegerField(
        default=3000, validators=[MinValueValidator(50), MaxValueValidator(3000)],
        help_text="Records the active learner works on; bounded because its memory grows with the square.",
    )
    learning_seed = models.PositiveIntegerField(
        default=1, help_text="Seeds the learner's sample and choices; change it to draw a different sample.",
    )
    random_pair_share = models.FloatField(
        default=0.1, validators=[MinValueValidator(0.0), MaxValueValidator(0.5)],
        help_text="Share of queued pairs drawn at random rather than by uncertainty, so the model also sees ordinary non-matches.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("mastering:entity-type-detail", args=[self.slug])

    @property
    def active_model(self) -> "MatchModel | None":
        return self.models.filter(active=True).order_by("-version").first()


class Attribute(models.Model):
    """One property of an entity type, compared by a dedupe comparator and merged by a survivorship rule."""

    class Comparator(models.TextChoices):
        STRING = "String", "String (names, short text)"
        SHORT_STRING = "ShortString", "Short string (codes)"
        TEXT = "Text", "Text (long, word-based)"
        EXACT = "Exact", "Exact"
        PRICE = "Price", "Price (number)"
        LATLONG = "LatLong", "Latitude,longitude"
        DATETIME = "DateTime", "Date and time"
        CATEGORICAL = "Categorical", "Categorical"
        SET = "Set", "Set of tokens"
        EXISTS = "Exists", "Exists (filled or not)"
        IGNORE = "Ignore", "Not compared (golden record only)"

    class Rule(models.TextChoices):
        MOST_FREQUENT = "most_frequent", "Most frequent"
        MOST_RECENT = "most_recent", "Most recent"
        LONGEST = "longest", "Longest"
        SOURCE_PRIORITY = "source_priority", "Source priority"
        MIN = "min", "Smallest"
        MAX = "max", "Largest"
        FIRST_NON_EMPTY = "first_non_empty", "First non-empty (oldest record)"

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(max_length=100)
    comparator = models.CharField(max_length=20, choices=Comparator.choices, default=Comparator.STRING)
    has_missing = models.BooleanField(default=True, help_text="Some records lack this value.")
    survivorship = models.CharField(max_length=20, choices=Rule.choices, default=Rule.MOST_FREQUENT)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["entity_type", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["entity_type", "name"], name="unique_attribute_name")]

    def __str__(self) -> str:
        return f"{self.entity_type.name}.{self.name}"

    @property
    def label(self) -> str:
        """The name as people read it: `date_of_birth` → "Date of birth" (the name stays the key everywhere else)."""
        words = self.name.replace("_", " ").replace("-", " ").split()
        return " ".join(words)[:1].upper() + " ".join(words)[1:] if words else self.name


class AttributeMapping(models.Model):
    """A source field feeding an attribute; several fields of one source are joined with spaces in order."""

    class Transform(models.TextChoices):
        TRIM = "trim", "Trim"
        LOWERCASE = "lowercase", "Lowercase"
        COLLAPSE_WHITESPACE = "collapse_whitespace", "Collapse whitespace"
        DIGITS_ONLY = "digits_only", "Digits only"
        STRIP_PUNCTUATION = "strip_punctuation", "Strip punctuation"
        ISO_DATE = "iso_date", "Date to ISO (2001-09-09 from 20010909, 09/09/2001, 9 Sep 2001)"

    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="mappings")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="mappings")
    field = models.ForeignKey(SourceField, on_delete=models.CASCADE, related_name="mappings")
    transforms = models.JSONField(default=list, blank=True, help_text="Applied in order: trim, lowercase, ...")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attribute", "source", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["attribute", "field"], name="unique_field_per_attribute")]

    def __str__(self) -> str:
        return f"{self.field} → {self.attribute}"


class MatchModel(TimeStampedModel):
    """One trained version of an entity type's matcher, with the labels behind it and its estimated quality."""

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="models")
    version = models.PositiveIntegerField()
    learned_settings = models.BinaryField(editable=False, help_text="dedupe settings; written only by Steward itself.")
    predicates = models.JSONField(default=list, blank=True)
    label_ids = models.JSONField(default=list, blank=True, help_text="The labels it was trained on.")
    label_count = models.PositiveIntegerField(default=0)
    match_count = models.PositiveIntegerField(default=0)
    distinct_count = models.PositiveIntegerField(default=0)
    precision = models.FloatField(
        null=True, blank=True,
        help_text="Estimated precision of its runs, from its probabilities on sample pairs (metrics.quality says how).",
    )
    recall = models.FloatField(null=True, blank=True)
    f1 = models.FloatField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True, help_text="The version used for matching.")
    job = models.ForeignKey("mastering.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["entity_type", "-version"]
        constraints = [models.UniqueConstraint(fields=["entity_type", "version"], name="unique_model_version")]

    def __str__(self) -> str:
        return f"{self.entity_type.name} model v{self.version}"


class Job(TimeStampedModel):
    """A long piece of work: status, progress, counts and timings in one row, visible while it runs."""

    class Kind(models.TextChoices):
        TRAIN = "train", "Train the model"
        PREPARE_QUEUE = "prepare_queue", "Fill the labeling queue"
        MASTER = "master", "Master (match, cluster, golden records)"
        GOLDEN = "golden", "Recompute golden records"
        INGEST = "ingest", "Ingest a table"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.DONE, Status.FAILED, Status.CANCELLED)

    # A job works for an entity type (training, mastering) or, for an ingest, for a source.
    entity_type = models.ForeignKey(EntityType, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="jobs",
                               help_text="The source an ingest job writes to.")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=100, blank=True)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    eta_seconds = models.FloatField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    model = models.ForeignKey(MatchModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancel_requested = models.BooleanField(default=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life from the worker running it.")
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["entity_type", "kind", "status"])]
        constraints = [
            # At most one queued-or-running job of a kind per entity type; starting another is refused. Ingest jobs
            # have no entity type (NULLs differ), so batches for a source may queue: they wait on its row lock.
            models.UniqueConstraint(
                fields=["entity_type", "kind"], condition=models.Q(status__in=["queued", "running"]),
                name="one_live_job_per_kind",
            ),
            models.CheckConstraint(condition=models.Q(entity_type__isnull=False) | models.Q(source__isnull=False),
                                   name="job_works_for_something"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("mastering:job-detail", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def subject(self) -> "EntityType | Source":
        """What the job works for: its entity type, or the source an ingest writes to."""
        return self.entity_type or self.source


class JobHold(models.Model):
    """A process working on a job right now (one row per running task); a row outliving its process marks a lost job.

    Written as a task starts and removed as it ends, so a worker killed mid-task leaves its row behind, naming a
    process that a liveness check finds gone (mastering.services.liveness).
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="holds")
    task = models.CharField(max_length=100, help_text="What the process is doing: run_job, block_records 3, ...")
    host = models.CharField(max_length=255, help_text="Host name and process namespace of the process.")
    pid = models.IntegerField(help_text="Id of the process running the task.")
    node = models.CharField(max_length=255, blank=True, help_text="Celery worker node name; blank when run in-process.")
    node_pid = models.IntegerField(null=True, blank=True, help_text="Id of the Celery worker's main process.")
    started_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "started_at"]

    def __str__(self) -> str:
        return f"{self.job} on {self.node or self.host} ({self.pid})"

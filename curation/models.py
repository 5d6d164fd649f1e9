"""Candidate pairs and the labels curators give them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from steward.models import TimeStampedModel


class CandidatePairQuerySet(models.QuerySet):
    def open(self) -> "CandidatePairQuerySet":
        return self.filter(status=CandidatePair.Status.OPEN)

    def claimable_by(self, curator, now) -> "CandidatePairQuerySet":
        """Open pairs that nobody else holds and the curator has not answered."""
        answered = Label.objects.filter(curator=curator, revoked_at__isnull=True).values("pair_id")
        return (
            self.open()
            .filter(Q(claimed_by__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=curator))
            .exclude(pk__in=answered)
        )


class CandidatePair(TimeStampedModel):
    """Two records of one entity type that may describe the same thing."""

    class Origin(models.TextChoices):
        ACTIVE_LEARNING = "active_learning", "Active learning (model unsure)"
        SIMILAR_TEXT = "similar_text", "Similar text (before the model can judge)"
        RANDOM = "random", "Random sample"
        LOW_CONFIDENCE = "low_confidence", "Low-confidence cluster member"
        ISSUE = "issue", "Data issue"
        IMPORTED = "imported", "Imported label"
        CLUSTER_EDIT = "cluster_edit", "Cluster edit"
        MATCH_FEEDBACK = "match_feedback", "Match feedback"

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for answers"
        DONE = "done", "Answered"
        DISPUTED = "disputed", "Curators disagree"
        RETIRED = "retired", "No longer asked"

    entity_type = models.ForeignKey("mastering.EntityType", on_delete=models.CASCADE, related_name="pairs")
    left = models.ForeignKey("mastering.SourceRecord", on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey("mastering.SourceRecord", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(null=True, blank=True, help_text="Match probability from the model, when known.")
    priority = models.FloatField(default=0.0, help_text="Lower is asked first.")
    origin = models.CharField(max_length=20, choices=Origin.choices)
    model = models.ForeignKey("mastering.MatchModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="The model version that proposed the pair.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    answers_needed = models.PositiveSmallIntegerField(default=1)
    claimed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_until = models.DateTimeField(null=True, blank=True)

    objects = CandidatePairQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["entity_type", "left", "right"], name="unique_pair_per_entity_type"),
            models.CheckConstraint(condition=Q(left__lt=models.F("right")), name="pair_left_before_right"),
        ]
        indexes = [models.Index(fields=["entity_type", "status", "priority"])]

    def __str__(self) -> str:
        return f"pair {self.pk}: {self.left_id} ~ {self.right_id}"


class LabelQuerySet(models.QuerySet):
    def active(self) -> "LabelQuerySet":
        return self.filter(revoked_at__isnull=True)


class Label(TimeStampedModel):
    """A curator's answer: are the pair's two records the same entity?"""

    class Answer(models.TextChoices):
        MATCH = "match", "Match"
        DISTINCT = "distinct", "Not a match"
        UNSURE = "unsure", "Unsure"

    class Origin(models.TextChoices):
        QUEUE = "queue", "Labeling queue"
        IMPORT = "import", "Imported"
        CLUSTER_EDIT = "cluster_edit", "Cluster edit"
        ISSUE = "issue", "Data issue"
        ADJUDICATION = "adjudication", "Adjudication"
        MATCH_FEEDBACK = "match_feedback", "Match feedback"

    pair = models.ForeignKey(CandidatePair, on_delete=models.CASCADE, related_name="labels")
    curator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labels")
    answer = models.CharField(max_length=10, choices=Answer.choices)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.QUEUE)
    origin_note = models.CharField(max_length=100, blank=True, help_text="Which decision taught it, such as 'issue #14'.")
    seconds_spent = models.FloatField(null=True, blank=True)
    model = models.ForeignKey("mastering.MatchModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              help_text="The model version that proposed the pair.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoke_reason = models.CharField(max_length=200, blank=True)

    objects = LabelQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["pair", "curator"], condition=Q(revoked_at__isnull=True),
                                    name="one_active_label_per_curator_and_pair"),
        ]
        indexes = [models.Index(fields=["curator", "created_at"])]

    def __str__(self) -> str:
        return f"{self.curator} said {self.answer} on pair {self.pair_id}"


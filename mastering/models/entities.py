"""Mastered entities: persistent ids, memberships, golden records, curator edits and run changes."""

import uuid
from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.urls import reverse

from mastering.models.matching import Attribute, EntityType, Job, MatchModel
from mastering.models.sources import SourceRecord


class EntityQuerySet(models.QuerySet):
    def live(self) -> "EntityQuerySet":
        return self.filter(retired_at__isnull=True)


class Entity(models.Model):
    """One real-world thing with a persistent id; retired ids redirect to the entity that absorbed them."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="entities")
    size = models.PositiveIntegerField(default=0)
    confidence = models.FloatField(null=True, blank=True, help_text="Lowest membership confidence among its records.")
    golden = models.JSONField(default=dict, blank=True, help_text="The golden record: attribute → value.")
    provenance = models.JSONField(
        default=dict, blank=True,
        help_text="Attribute → {rule, record, version, source, key}: where each golden value came from.",
    )
    pinned = models.BooleanField(default=False, help_text="Curators fixed its members; runs neither add nor remove any.")
    created_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    help_text="The last run that changed its members or golden values.")
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed",
                                     help_text="For a retired id: the entity that took its records.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EntityQuerySet.as_manager()

    class Meta:
        ordering = ["entity_type", "created_at", "id"]
        verbose_name_plural = "entities"
        indexes = [models.Index(fields=["entity_type", "retired_at"]), models.Index(fields=["entity_type", "size"])]

    def __str__(self) -> str:
        label = " ".join(str(v) for v in list(self.golden.values())[:2] if v) or "entity"
        return f"{label} ({str(self.id)[:8]})"

    def get_absolute_url(self) -> str:
        return reverse("mastering:entity-detail", args=[self.entity_type.slug, self.id])


class Membership(models.Model):
    """A source record's place in an entity, and why it holds."""

    class Reason(models.TextChoices):
        MODEL = "model", "Matched by the model"
        SINGLETON = "singleton", "No match found"
        EDIT = "edit", "Curator edit"
        PINNED = "pinned", "Pinned by a curator"
        ISSUE = "issue", "Data issue resolution"

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="memberships")
    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="memberships")
    confidence = models.FloatField(null=True, blank=True, help_text="Model confidence that the record belongs.")
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.MODEL)
    edit = models.ForeignKey("mastering.ClusterEdit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                            help_text="The run that placed it here.")

    class Meta:
        ordering = ["entity", "record"]
        constraints = [models.UniqueConstraint(fields=["entity_type", "record"], name="one_entity_per_record")]

    def __str__(self) -> str:
        return f"{self.record} in {self.entity_id}"


class ClusterEdit(models.Model):
    """A curator's decision about membership, applied after model clustering by every later run."""

    class Kind(models.TextChoices):
        MERGE = "merge", "Merge entities"
        SPLIT = "split", "Split records out"
        MOVE = "move", "Move a record"
        PIN = "pin", "Pin members"
        UNPIN = "unpin", "Unpin"

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="edits")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    entity = models.ForeignKey(Entity, null=True, blank=True, on_delete=models.SET_NULL, related_name="edits",
                               help_text="The entity acted on (the survivor of a merge, the target of a move).")
    records = models.JSONField(default=list, blank=True, help_text="Source record ids the edit is about.")
    other_entities = models.JSONField(default=list, blank=True, help_text="Entity ids merged away or moved from.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=500)
    active = models.BooleanField(default=True, help_text="Superseded edits (an unpin after a pin) stay for history.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["entity_type", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.user} ({self.created_at:%Y-%m-%d})"


class ValueOverride(models.Model):
    """A curator's value for one golden attribute, kept through runs until removed."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="overrides")
    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="+")
    value = models.TextField(blank=True)
    reason = models.CharField(max_length=500)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["entity", "attribute", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "attribute"], condition=models.Q(removed_at__isnull=True),
                                    name="one_live_override_per_value"),
        ]

    def __str__(self) -> str:
        return f"{self.attribute.name} = {self.value!r}"


class RunChange(models.Model):
    """What one run (or edit) changed about one entity: members in and out, golden values before and after."""

    class Kind(models.TextChoices):
        NEW = "new", "New"
        GROWN = "grown", "Grew"
        SHRUNK = "shrunk", "Shrank"
        MERGED = "merged", "Absorbed other entities"
        SPLIT = "split", "Split"
        CHANGED = "changed", "Members changed"
        VALUES = "values", "Golden values changed"
        RETIRED = "retired", "Retired"
        EDITED = "edited", "Curator edit"

    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    edit = models.ForeignKey(ClusterEdit, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="Who made a change that is neither a run nor a cluster edit (an override, say).")
    # A database default: runs write their changes with COPY, naming only the columns they fill.
    reason = models.CharField(max_length=500, blank=True, db_default="",
                              help_text="Why, for a change made by a user outside a cluster edit.")
    entity_id = models.UUIDField(db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    added = models.JSONField(default=list, blank=True)
    removed = models.JSONField(default=list, blank=True)
    golden_before = models.JSONField(default=dict, blank=True)
    golden_after = models.JSONField(default=dict, blank=True)
    related = models.JSONField(default=list, blank=True, help_text="Other entity ids involved (merged, split from).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["job", "kind"])]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.kind}"

    @property
    def attribution(self) -> "Attribution":
        """Who made the change (a user or a run) and why; load edit__user, job and user with it."""
        if self.edit_id:
            return Attribution(_username(self.edit.user), self.edit.reason)
        if self.job_id:
            why = self.job.get_kind_display()
            if self.job.parameters.get("attribute") and self.job.parameters.get("rule"):
                why = f"{why}: {self.job.parameters['attribute']} now uses {self.job.parameters['rule']}"
            return Attribution(f"run #{self.job_id}", why, job_id=self.job_id)
        if self.user_id or self.reason:
            return Attribution(_username(self.user), self.reason or "no reason recorded")
        return Attribution("not recorded", "recorded before Steward kept who and why")


class Attribution(NamedTuple):
    by: str
    why: str
    job_id: int | None = None


def _username(user) -> str:
    return user.username if user is not None else "a deleted user"


class BlockKey(models.Model):
    """A record's block under one blocking rule, for one run; pairs come from a join on `block`."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False)
    predicate = models.SmallIntegerField()
    block = models.BigIntegerField(help_text="64-bit hash of predicate and key.")
    record = models.BigIntegerField()
    source = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["job", "block"])]


class ScoredPair(models.Model):
    """A compared pair of one run, with its score; kept for the latest run's diagnostics."""

    id = models.BigAutoField(primary_key=True)
    # No database constraint (deleting a job still deletes its pairs, in Django): PostgreSQL checked it with a
    # trigger per inserted row, a run's 100,000 pairs and more.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    left = models.BigIntegerField()
    right = models.BigIntegerField()
    chunk = models.IntegerField()
    score = models.FloatField(null=True)

    class Meta:
        indexes = [models.Index(fields=["job", "chunk"])]


class RunRecord(models.Model):
    """The version of one live record as a run found it when it started (the run's snapshot of its input).

    A later run with the same model compares its own snapshot with the last finished run's: records whose version
    is the same were blocked and scored from the same values, so their keys and pair scores are reused.
    """

    id = models.BigAutoField(primary_key=True)
    # No database constraint, as for ScoredPair: a trigger per row of a run's snapshot.
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    record = models.BigIntegerField(help_text="Source record id (no foreign key: written in bulk by runs).")
    version = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["job", "record"], name="run_record_job")]

    def __str__(self) -> str:
        return f"record {self.record} v{self.version} (job {self.job_id})"


class JobChunk(models.Model):
    """One slice of a staged job's work (a range of records to block, a chunk of pairs to score).

    Workers take chunks independently; whoever completes the last chunk of a stage starts the next
    stage, which is how a run fans out over workers and back in without a result backend.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="chunks")
    stage = models.CharField(max_length=20)
    number = models.IntegerField()
    first = models.BigIntegerField(default=0, help_text="First record id of the slice (blocking).")
    last = models.BigIntegerField(default=0, help_text="Last record id of the slice (blocking).")
    done = models.BooleanField(default=False)
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["job", "stage", "number"]
        constraints = [models.UniqueConstraint(fields=["job", "stage", "number"], name="one_chunk_per_number")]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.stage}/{self.number}"


class RecordBlockKey(models.Model):
    """The match index: a mastered record's block under one blocking rule of one model version.

    Batch runs leave their keys here and every streamed record replaces its own, so streaming finds a record's
    candidates with one indexed lookup on (model, block) instead of a rebuild. Rows of an older model are
    replaced as runs with the newer one re-index each slice of records.
    """

    # The candidate lookup's key, (model, block) → records, is the primary key: a surrogate id was one more index
    # for every run to maintain (a 64-bit block hash of two rules colliding is dropped as a duplicate).
    pk = models.CompositePrimaryKey("model", "block", "record")
    # No database constraints (deleting an entity type or a model still deletes its rows, in Django): PostgreSQL
    # checked them with two triggers per inserted row, which cost a run of 100,000 people 5 of its 10 server CPU
    # seconds of writing the index.
    entity_type = models.ForeignKey(EntityType, on_delete=models.CASCADE, related_name="+", db_index=False,
                                    db_constraint=False)
    model = models.ForeignKey(MatchModel, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    predicate = models.SmallIntegerField()
    block = models.BigIntegerField(help_text="64-bit hash of predicate and key (the batch run's hash).")
    record = models.BigIntegerField(help_text="Source record id (no foreign key: written in bulk by runs).")
    source = models.IntegerField()

    class Meta:
        indexes = [
            # Replacing one record's keys, and re-indexing a run's slice of records.
            models.Index(fields=["entity_type", "record"], name="match_index_record"),
        ]

    def __str__(self) -> str:
        return f"record {self.record} in block {self.block} (model {self.model_id})"

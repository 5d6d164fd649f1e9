from dataclasses import dataclass

from django.db.models import Count, Max, Q, QuerySet

from mastering.models import (
    AttributeMapping,
    BatchSighting,
    Entity,
    EntityType,
    IngestBatch,
    Job,
    MatchModel,
    Source,
    SourceRecord,
    SourceRecordVersion,
)


# What showing a model version or a job next to other rows never reads: the model's blob and training record,
# a job's counts, timings and parameters (large JSON for a mastering run).
MODEL_HEAVY_FIELDS = ("learned_settings", "label_ids", "predicates", "metrics")
JOB_HEAVY_FIELDS = ("counts", "timings", "parameters")
# A batch's problem report and warnings can hold thousands of rows; a link to the batch needs none of it.
BATCH_HEAVY_FIELDS = ("problems", "warnings", "timings")


def _batch_links(*paths: str) -> list[str]:
    """Fields to defer on batches reached by these paths, which are shown as links only."""
    return [f"{path}__{name}" for path in paths for name in BATCH_HEAVY_FIELDS]


def list_sources() -> QuerySet[Source]:
    """Sources with their fields and live record counts."""
    return Source.objects.prefetch_related("fields").annotate(
        record_count=Count("records", filter=Q(records__retired=False))
    ).order_by("name")


def get_source(*, slug: str) -> Source:
    """One source with its fields."""
    return Source.objects.prefetch_related("fields").get(slug=slug)


def list_records(*, source: Source) -> QuerySet[SourceRecord]:
    """A source's records by key, with the source loaded for their links."""
    return SourceRecord.objects.filter(source=source).select_related("source").order_by("key")


def get_record(*, source: Source, key: str) -> SourceRecord:
    """One record with the batches that first sent it and wrote its current version."""
    return (SourceRecord.objects.select_related("source", "first_batch__source", "changed_batch__source")
            .defer(*_batch_links("first_batch", "changed_batch")).get(source=source, key=key))


def last_seen_batch(*, record: SourceRecord) -> IngestBatch | None:
    """The newest batch that sent this record: one that wrote a live version of it, or saw it unchanged."""
    if not record.retired:
        wrote = [record.changed_batch_id]
    else:  # the retiring batch did not send it; the one that wrote its last live version did
        wrote = list(SourceRecordVersion.objects.filter(record=record, retired=False).order_by("-version")
                     .values_list("batch_id", flat=True)[:1])
    sighted = BatchSighting.objects.filter(
        batch__source_id=record.source_id, first_record_id__lte=record.pk, last_record_id__gte=record.pk
    ).aggregate(latest=Max("batch_id"))["latest"]
    candidates = [batch_id for batch_id in [*wrote, sighted] if batch_id]
    if not candidates:
        return None
    return IngestBatch.objects.filter(pk=max(candidates)).select_related("source").defer(*BATCH_HEAVY_FIELDS).first()


def record_memberships(*, record: SourceRecord) -> list:
    """The entities the record is in now (one per entity type it maps into), with the run or edit that placed it."""
    from mastering.models import Membership

    return list(Membership.objects.filter(record=record).select_related("entity__entity_type", "job")
                .defer(*(f"job__{name}" for name in JOB_HEAVY_FIELDS)))


def list_batches(*, source: Source | None = None) -> QuerySet[IngestBatch]:
    """Batches, newest first, of one source or all."""
    batches = IngestBatch.objects.select_related("source", "user", "job")
    return batches.filter(source=source) if source is not None else batches


def record_history(*, record: SourceRecord) -> list[dict]:
    """Every version of a record, newest first, each with what changed from the one before."""
    versions: list[dict] = [
        {"version": record.version, "data": record.data, "retired": record.retired, "batch": record.changed_batch,
         "at": record.updated_at, "current": True, "row": record.file_row}
    ]
    old_versions = (SourceRecordVersion.objects.filter(record=record).select_related("batch__user", "batch__source")
                    .defer(*_batch_links("batch")).order_by("-version"))
    for old in old_versions:
        versions.append({"version": old.version, "data": old.data, "retired": old.retired, "batch": old.batch,
                         "at": old.created_at, "current": False, "row": old.file_row})
    for newer, older in zip(versions, versions[1:] + [None]):
        before = older["data"] if older else {}
        newer["changes"] = [
            {"field": name, "before": before.get(name), "after": newer["data"].get(name)}
            for name in sorted(set(before) | set(newer["data"]))
            if before.get(name) != newer["data"].get(name)
        ]
        if older and older["retired"] != newer["retired"]:
            newer["changes"].append({"field": "(retired)", "before": older["retired"], "after": newer["retired"]})
    return versions


def match_threshold_for(*, entity_type: EntityType, model: MatchModel | None) -> float | None:
    """The score a pair must pass to be clustered with this model: the entity type's when set, else the model's own.

    None only when the type sets none and there is no model yet. Every place that clusters, or says
    what a run clusters at, asks here, so a job and the pages agree.
    """
    if entity_type.match_threshold is not None:
        return entity_type.match_threshold
    if model is None:
        return None
    from mastering.services.master.blocking import matcher  # the per-process matcher cache

    return matcher(model).threshold


def list_entity_types() -> QuerySet[EntityType]:
    """Entity types with attributes and mappings loaded."""
    from django.db.models import Prefetch

    return EntityType.objects.prefetch_related(
        "attributes", Prefetch("attributes__mappings", queryset=AttributeMapping.objects.select_related("source", "field"))
    ).order_by("name")


def list_jobs() -> QuerySet[Job]:
    """Jobs, newest first, with entity type (or an ingest's source and batch), starter and model loaded."""
    return Job.objects.select_related("entity_type", "source", "batch", "started_by", "model")


def blocking_report(*, job: Job) -> list[dict]:
    """Per blocking rule of a master run: pairs it made, blocks skipped for the pair budget, and (from the
    model's training) the share of known matches it compares."""
    trained = {row["rule"]: row for row in ((job.model.metrics or {}).get("rules", []) if job.model else [])}
    rows = []
    for row in (job.counts or {}).get("per_predicate", []):
        rows.append({**row, "matches_compared": trained.get(row["predicate"], {}).get("matches_compared")})
    return rows


def mapped_sources(*, entity_type: EntityType) -> list[Source]:
    """The sources whose fields feed the entity type."""
    return list(Source.objects.filter(mappings__attribute__entity_type=entity_type).distinct().order_by("name"))


def entity_type_overview() -> list[dict]:
    """Each entity type with its mapped sources, active model and live record count."""
    rows = []
    for entity_type in list_entity_types():
        sources = mapped_sources(entity_type=entity_type)
        rows.append({
            "entity_type": entity_type, "sources": sources, "model": entity_type.active_model,
            "records": SourceRecord.objects.filter(source__in=sources, retired=False).count(),
        })
    return rows


def list_entities(*, entity_type: EntityType) -> QuerySet:
    """Live entities of a type with their members and the run that last changed them."""
    from django.db.models import Prefetch

    from mastering.models import Entity, Membership

    return (
        Entity.objects.live().filter(entity_type=entity_type)
        .select_related("changed_job__model", "entity_type")
        .defer(*(f"changed_job__{name}" for name in JOB_HEAVY_FIELDS), *(f"changed_job__model__{name}" for name in MODEL_HEAVY_FIELDS))
        .prefetch_related(Prefetch("memberships", queryset=Membership.objects.select_related("record__source", "job__model", "edit__user")
                                   .defer(*(f"job__{name}" for name in JOB_HEAVY_FIELDS),
                                          *(f"job__model__{name}" for name in MODEL_HEAVY_FIELDS)).order_by("record_id")))
        .order_by("-size", "created_at", "id")
    )


def list_entity_rows(*, entity_type: EntityType) -> QuerySet:
    """Live entities of a type for a table of golden values: no provenance, members or runs to load per row."""
    from mastering.models import Entity

    return (Entity.objects.live().filter(entity_type=entity_type).select_related("entity_type").defer("provenance")
            .order_by("-size", "created_at", "id"))


def resolve_entity(*, entity_type: EntityType, entity_id) -> tuple:
    """(entity, retired id it was looked up by or None); a retired id leads to the entity that took its records."""
    from mastering.models import Entity

    entity = Entity.objects.select_related("entity_type", "retired_into").get(entity_type=entity_type, pk=entity_id)
    if entity.retired_at is None:
        return entity, None
    survivor = entity
    for _ in range(20):  # redirects are kept one hop deep; the bound only guards against a cycle
        if survivor.retired_into is None:
            raise Entity.DoesNotExist(f"Entity {entity_id} was retired and its records are gone.")
        survivor = survivor.retired_into
        if survivor.retired_at is None:
            return survivor, entity.pk
    raise Entity.DoesNotExist(f"Entity {entity_id} has no live successor.")


def list_memberships(*, entity_type: EntityType) -> QuerySet:
    """One row per record of the entity type: its entity, reason and run."""
    from mastering.models import Membership

    return Membership.objects.filter(entity_type=entity_type).select_related("record__source", "job__model").order_by("entity_id", "record_id")


def run_changes(*, entity_type: EntityType, job_id: int | None, kind: str = "") -> tuple[QuerySet, dict[str, int]]:
    """What one run changed (optionally of one kind), and how many changes of each kind it made."""
    from mastering.models import RunChange

    changes = RunChange.objects.filter(entity_type=entity_type, job_id=job_id).select_related("job", "edit__user", "user") \
        .order_by("kind", "id")
    counts = dict(changes.order_by().values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    return (changes.filter(kind=kind) if kind else changes), counts


def last_master_job(*, entity_type: EntityType):
    """The latest finished mastering run, or None."""
    return (Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER, status=Job.Status.DONE).defer(*JOB_HEAVY_FIELDS)
            .order_by("-finished_at").first())


def record_ids_by_ref(*, entity_type: EntityType, refs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """(source slug, key) → record id for the references found among the sources mapped into the entity type,
    in one query however many there are."""
    from mastering.mapping import projection_for

    keys_by_source: dict[str, set[str]] = {}
    for source, key in refs:
        keys_by_source.setdefault(source, set()).add(key)
    if not keys_by_source:
        return {}
    wanted = Q()
    for source, keys in keys_by_source.items():
        wanted |= Q(source__slug=source, key__in=keys)
    rows = SourceRecord.objects.filter(source_id__in=projection_for(entity_type).source_ids).filter(wanted)
    return {(slug, key): pk for pk, slug, key in rows.values_list("pk", "source__slug", "key")}


@dataclass(frozen=True)
class RankedEntity:
    entity: Entity
    score: float
    basis: str  # "model v3" or "text similarity"


def rank_against(*, entity: Entity, candidates, limit: int = 10) -> list[RankedEntity]:
    """Candidates for merging into (or receiving a record from) `entity`, each once, best first: by the active model's
    match probability between the two golden records, or by text similarity of their golden values without a model."""
    import difflib

    unique = list({c.pk: c for c in candidates if c.pk != entity.pk}.values())
    model = entity.entity_type.active_model
    ranked = []
    if model is not None:
        from mastering.matchers import matcher_for

        matcher = matcher_for(model)
        names = [a.name for a in entity.entity_type.attributes.all()]
        mine = {n: entity.golden.get(n) for n in names}
        for other in unique:
            score = matcher.score_pair(mine, {n: other.golden.get(n) for n in names})
            ranked.append(RankedEntity(other, round(float(score), 4), f"model v{model.version}"))
    else:
        mine = " ".join(str(v) for v in entity.golden.values() if v).lower()
        for other in unique:
            text = " ".join(str(v) for v in other.golden.values() if v).lower()
            ranked.append(RankedEntity(other, round(difflib.SequenceMatcher(None, mine, text, autojunk=False).ratio(), 4),
                                       "text similarity"))
    ranked.sort(key=lambda r: (-r.score, str(r.entity.pk)))
    return ranked[:limit]

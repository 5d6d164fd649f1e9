"""Stage 3 of a run: clusters, curator edits, persistent ids, golden records, all written in one transaction."""

import logging
import time
import uuid
from collections import defaultdict

import numpy
from django.db import connection, transaction
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activity
from mastering import engine, selectors
from mastering.mapping import mapped_record_queryset, projection_for
from mastering.models import ClusterEdit, Entity, EntityType, Job, Membership, RunChange, ScoredPair
from mastering.resolution.edits import Edit, apply_edits
from mastering.resolution.identity import assign_ids
from mastering.services import golden, run_lineage
from mastering.services.jobs import JobCancelled, Progress, fail_job, finish_job
from mastering.services.liveness import holding
from mastering.services.master import incremental
from steward.db import among, insert_rows, json_text

logger = logging.getLogger(__name__)

# Pairs scoring below this share of the threshold cannot join a cluster; leaving them out keeps components small.
CLUSTER_FLOOR = 0.5
# Records whose golden records, memberships and changes are computed and written together (on PostgreSQL).
RECORDS_PER_BATCH = 20_000
RECORDS_PER_BATCH_SQLITE = 900  # SQLite takes at most 999 parameters in an IN list


def finish_master(*, job_id: int) -> Job | None:
    """Cluster the scored pairs, apply edits, keep ids, and write the run's results in one transaction."""
    job = Job.objects.select_related("entity_type", "model", "started_by").filter(pk=job_id).first()
    if job is None or job.status != Job.Status.RUNNING:
        return job
    progress = Progress(job)
    progress.timings = dict(job.timings)
    progress.cpu_timings = True
    try:
        with holding(job, "finish_master"):
            _finish(job, progress)
    except JobCancelled:
        fail_job(job, cancelled=True)
    except Exception as exc:
        logger.exception("Finishing master job %s failed", job_id)
        fail_job(job, error=f"{type(exc).__name__}: {exc}")
        raise
    job.refresh_from_db()
    return job


def _finish(job: Job, progress: Progress) -> None:
    entity_type = job.entity_type
    progress.begin("clustering", 0.8)
    projection = projection_for(entity_type)
    # Only ids and sources here: the records' values are read a batch of entities at a time, for golden records.
    source_of = dict(mapped_record_queryset(projection).values_list("pk", "source_id").iterator(chunk_size=50_000))
    live = set(source_of)
    threshold = selectors.match_threshold_for(entity_type=entity_type, model=job.model)
    # Pairs far below the threshold cannot join a cluster; leaving them out keeps connected components small.
    floor = threshold * CLUSTER_FLOOR
    scored = ScoredPair.objects.filter(job=job, score__gte=floor).values_list("left", "right", "score")
    pairs = numpy.array([((left, right), score) for left, right, score in scored.iterator(chunk_size=50_000)],
                        dtype=engine.SCORE_DTYPE)
    group_of = {rid: str(source) for rid, source in source_of.items()} if entity_type.one_per_source else None
    del source_of
    clusters = engine.cluster_pairs(pairs, threshold=threshold, group_of=group_of) if len(pairs) else []
    confidence: dict[int, float] = {}
    grouped: list[frozenset[int]] = []
    for cluster in clusters:
        members = frozenset(r for r in cluster.record_ids if r in live)
        if members:
            grouped.append(members)
        confidence.update({r: round(float(c), 4) for r, c in zip(cluster.record_ids, cluster.confidences)})
    clustered = set().union(*grouped) if grouped else set()
    grouped += [frozenset([r]) for r in sorted(live - clustered)]
    with transaction.atomic():
        # Curator edits take the same lock, so none lands between reading memberships and writing the results.
        EntityType.objects.select_for_update().filter(pk=entity_type.pk).first()
        if not Job.objects.select_for_update().filter(pk=job.pk, status=Job.Status.RUNNING).exists():
            return  # a redelivered finish, or the job was cancelled meanwhile: its first delivery did the work
        progress.begin("applying curator edits", 0.84)
        edited = apply_edits(grouped, _edits(entity_type), live)
        progress.begin("keeping entity ids", 0.86)
        previous = dict(Membership.objects.filter(entity_type=entity_type).values_list("record_id", "entity_id"))
        previous = {record: str(entity) for record, entity in previous.items()}
        seniority = {str(pk): (created.timestamp(),) for pk, created in
                     Entity.objects.filter(entity_type=entity_type).values_list("pk", "created_at")}
        assignment = assign_ids(edited.clusters, previous, seniority=seniority, forced=edited.forced_ids)
        progress.begin("golden records", 0.9)
        basis = incremental.basis_of(job)
        counts = _write_results(job, entity_type, edited, assignment, confidence, projection, previous, progress,
                                basis.touched if basis is not None else None)
        counts["threshold"] = threshold
        record_activity(
            kind=Activity.Kind.MASTER, actor=job,
            summary=f"{entity_type.name}: {counts['entities']} entities from {len(live)} records "
                    f"({counts['new']} new, {counts['unchanged']} unchanged, {counts['retired']} retired), "
                    f"clustered above {threshold:g}",
            inputs=[entity_type, job.model], outputs=[job],
            parameters={"model_version": job.model.version, "threshold": threshold,
                        "threshold_from": "model" if entity_type.match_threshold is None else "entity type", **counts},
            run=run_lineage.run_facts(job, counts=counts, model=job.model),
        )
        progress.stage_done()
        finish_job(job, counts=counts, timings=progress.timings)


def _edits(entity_type: EntityType) -> list[Edit]:
    edits = []
    for edit in ClusterEdit.objects.filter(entity_type=entity_type, active=True).order_by("created_at", "id"):
        anchor = frozenset(edit.records[1:]) if edit.kind == ClusterEdit.Kind.MOVE else frozenset()
        records = frozenset(edit.records[:1]) if edit.kind == ClusterEdit.Kind.MOVE else frozenset(edit.records)
        edits.append(Edit(edit.kind, str(edit.entity_id) if edit.entity_id else None, records, anchor, edit_id=edit.pk))
    return edits


def _write_results(job, entity_type, edited, assignment, confidence, projection, previous, progress, changed) -> dict:
    """Golden records, entities, memberships and run changes, a batch of entities at a time.

    Each batch reads its members' values and their current entities and memberships, and writes only what
    changed, so memory holds one batch of records' values, never every record's. With `changed` (the records
    new, changed or retired since the last run, which had the same rules), an entity with the same members as
    before, none of them changed, keeps its golden record without reading its members' values.
    """
    now = timezone.now()
    rules = golden.rules_of(entity_type)
    overrides = golden.live_overrides(entity_type)
    old_members: dict[str, set[int]] = defaultdict(set)
    for record, entity_id in previous.items():
        old_members[entity_id].add(record)
    entity_counts = {"entities": len(edited.clusters), **assignment.counts(), "values_changed": 0}
    batch_size = RECORDS_PER_BATCH if connection.vendor == "postgresql" else RECORDS_PER_BATCH_SQLITE
    batch: list[int] = []
    members_in_batch = 0
    written = {"seconds": 0.0}
    for index, members in enumerate(edited.clusters):
        batch.append(index)
        members_in_batch += len(members)
        if members_in_batch >= batch_size:
            _write_batch(job, entity_type, edited, assignment, confidence, projection, old_members, rules, overrides,
                         batch, entity_counts, now, written, changed)
            batch, members_in_batch = [], 0
    if batch:
        _write_batch(job, entity_type, edited, assignment, confidence, projection, old_members, rules, overrides,
                     batch, entity_counts, now, written, changed)
    # Of the golden records stage, the time spent writing (COPY, updates), the rest being reads and survivorship.
    progress.timings["golden records: writes"] = round(written["seconds"], 3)
    progress.begin("retiring entities, removing memberships of retired records", 0.95)
    live = {record for members in edited.clusters for record in members}
    gone = [record for record in previous if record not in live]
    for start in range(0, len(gone), 900):
        Membership.objects.filter(entity_type=entity_type, record_id__in=gone[start:start + 900]).delete()
    retiring = list(assignment.retired)
    retired_before = dict(Entity.objects.filter(pk__in=retiring).values_list("pk", "golden")) if retiring else {}
    changes = []
    for old_id, survivor in assignment.retired.items():
        Entity.objects.filter(pk=old_id).update(retired_at=now, retired_into_id=survivor, size=0, changed_job=job)
        Entity.objects.filter(retired_into_id=old_id).update(retired_into_id=survivor)  # redirects stay one hop
        golden_before = retired_before.get(uuid.UUID(str(old_id)), retired_before.get(old_id, {}))
        changes.append(RunChange(entity_type=entity_type, job=job, entity_id=old_id, kind=RunChange.Kind.RETIRED,
                                 removed=sorted(old_members.get(old_id, ())),
                                 golden_before=golden_before or {}, related=[survivor] if survivor else []))
    _insert_changes(changes, now)
    return entity_counts


def _write_batch(job, entity_type, edited, assignment, confidence, projection, old_members, rules, overrides,
                 batch, entity_counts, now, written, changed) -> None:
    records = [record for index in batch for record in edited.clusters[index]]
    # Plain rows: most are unchanged, and building a model instance per record cost more than comparing it.
    memberships = {row[1]: row for row in Membership.objects.filter(among(Membership, "record", records), entity_type=entity_type)
                   .values_list("pk", "record_id", "entity_id", "confidence", "reason", "edit_id", "job_id")}
    new_entities, new_changes, changed_entities, changes = [], [], [], []
    desired: dict[int, tuple[str, float | None, str, int | None]] = {}
    if changed is not None:
        batch = _drop_unchanged(entity_type, edited, assignment, confidence, overrides, batch, changed, desired)
        records = [record for index in batch for record in edited.clusters[index]]
    facts = golden.record_facts(projection, record_ids=records)
    ids = [assignment.ids[index] for index in batch]
    existing = {str(e.pk): e for e in Entity.objects.filter(among(Entity, "id", ids), entity_type=entity_type, retired_at__isnull=True)}
    for index in batch:
        members = edited.clusters[index]
        entity_id = assignment.ids[index]
        pinned = index in edited.pinned
        for record in members:
            reason, edit_id = _desired(edited, index, record, confidence)
            desired[record] = (entity_id, confidence.get(record) if len(members) > 1 else None, reason, edit_id)
        golden_values, provenance = golden.golden_for(rules, members, facts, overrides.get(entity_id))
        member_confidence = [desired[r][1] for r in members if desired[r][1] is not None]
        size, lowest = len(members), (min(member_confidence) if member_confidence else None)
        before_members = old_members.get(entity_id, set())
        kind = assignment.kinds[index]
        entity = existing.get(entity_id)
        if entity is None:
            # Plain rows, not model instances: building a model costs more than computing its golden record.
            golden_text = json_text(golden_values)  # the entity's and its run change's: encoded once for both
            new_entities.append((entity_id, entity_type.pk, size, lowest, golden_text, provenance, pinned, job.pk,
                                 job.pk, None, None, now, now))
            new_changes.append((entity_type.pk, job.pk, None, entity_id, RunChange.Kind.NEW, sorted(members), [], {},
                                golden_text, [], now))
            continue
        values_changed = entity.golden != golden_values
        if kind == "unchanged" and not values_changed and entity.provenance == provenance and entity.size == size \
                and entity.pinned == pinned and _same(entity.confidence, lowest):
            continue
        membership_changed = kind != "unchanged"
        if membership_changed or values_changed:
            entity.changed_job = job
            changes.append(RunChange(
                entity_type=entity_type, job=job, entity_id=entity_id,
                kind=kind if membership_changed else RunChange.Kind.VALUES,
                added=sorted(members - before_members), removed=sorted(before_members - members),
                golden_before=entity.golden, golden_after=golden_values,
                related=sorted(old for old, survivor in assignment.retired.items() if survivor == entity_id),
            ))
        entity_counts["values_changed"] += values_changed
        entity.size, entity.confidence, entity.golden, entity.provenance, entity.pinned = size, lowest, golden_values, provenance, pinned
        entity.updated_at = now
        changed_entities.append(entity)
    clock = time.perf_counter()
    insert_rows(Entity, ENTITY_COLUMNS, new_entities)
    Entity.objects.bulk_update(changed_entities, ["size", "confidence", "golden", "provenance", "pinned", "changed_job", "updated_at"], batch_size=2000)
    _write_memberships(job, entity_type, desired, memberships)
    insert_rows(RunChange, CHANGE_COLUMNS, new_changes)
    _insert_changes(changes, now)
    written["seconds"] += time.perf_counter() - clock


def _desired(edited, index: int, record: int, confidence: dict) -> tuple:
    members = edited.clusters[index]
    edit_id = edited.edited_records.get(record)
    if index in edited.pinned:
        reason = Membership.Reason.PINNED
    elif edit_id is not None:
        reason = Membership.Reason.EDIT
    elif len(members) == 1:
        reason = Membership.Reason.SINGLETON
    else:
        reason = Membership.Reason.MODEL
    return reason, edit_id


def _drop_unchanged(entity_type, edited, assignment, confidence, overrides, batch, changed, desired) -> list[int]:
    """The batch's clusters whose entity must be looked at again; the others only get their memberships checked.

    An entity is left alone when it keeps the same members, none of them changed since the last run, it has no
    override and its size, confidence and pin are what this run gives it: its golden record is then the one the
    last run (or the edit since) computed from the same values and rules.
    """
    candidates = [index for index in batch if assignment.kinds[index] == "unchanged"
                  and assignment.ids[index] not in overrides and not (edited.clusters[index] & changed)]
    cheap = {str(pk): (size, conf, pinned) for pk, size, conf, pinned in Entity.objects.filter(
        among(Entity, "id", [assignment.ids[i] for i in candidates]), entity_type=entity_type, retired_at__isnull=True,
    ).values_list("pk", "size", "confidence", "pinned")}
    left_alone = set()
    for index in candidates:
        members = edited.clusters[index]
        known = cheap.get(assignment.ids[index])
        if known is None:
            continue
        member_confidence = [confidence.get(r) for r in members if len(members) > 1 and confidence.get(r) is not None]
        lowest = min(member_confidence) if member_confidence else None
        if known[0] != len(members) or known[2] != (index in edited.pinned) or not _same(known[1], lowest):
            continue
        left_alone.add(index)
        for record in members:
            reason, edit_id = _desired(edited, index, record, confidence)
            desired[record] = (assignment.ids[index], confidence.get(record) if len(members) > 1 else None, reason, edit_id)
    return [index for index in batch if index not in left_alone]


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)


def _write_memberships(job, entity_type, desired, existing) -> None:
    create, update = [], []
    for record, (entity_id, confidence, reason, edit_id) in desired.items():
        row = existing.get(record)
        if row is None:
            create.append((entity_type.pk, entity_id, record, confidence, reason, edit_id, job.pk))
            continue
        pk, _, old_entity, old_confidence, old_reason, old_edit, old_job = row
        if (str(old_entity), old_reason, old_edit) != (entity_id, reason, edit_id) or not _same(old_confidence, confidence):
            update.append(Membership(pk=pk, entity_id=entity_id, confidence=confidence, reason=reason, edit_id=edit_id,
                                     job_id=job.pk if str(old_entity) != entity_id else old_job))
    Membership.objects.bulk_update(update, ["entity", "confidence", "reason", "edit", "job"], batch_size=2000)
    insert_rows(Membership, ["entity_type_id", "entity_id", "record_id", "confidence", "reason", "edit_id", "job_id"], create)


ENTITY_COLUMNS = ["id", "entity_type_id", "size", "confidence", "golden", "provenance", "pinned", "created_job_id",
                  "changed_job_id", "retired_at", "retired_into_id", "created_at", "updated_at"]
CHANGE_COLUMNS = ["entity_type_id", "job_id", "edit_id", "entity_id", "kind", "added", "removed", "golden_before",
                  "golden_after", "related", "created_at"]


def _insert_changes(changes: list[RunChange], now) -> None:
    insert_rows(
        RunChange,
        CHANGE_COLUMNS,
        ((c.entity_type_id, c.job_id, c.edit_id, uuid.UUID(str(c.entity_id)), c.kind, c.added, c.removed, c.golden_before,
          c.golden_after, c.related, now) for c in changes),
    )

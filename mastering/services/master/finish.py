"""Stage 3 of a run: clusters, curator edits, persistent ids, golden records, all written in one transaction."""

import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

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
from steward.db import BackgroundInserts, among, insert_rows, json_text

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
    source_of = dict(mapped_record_queryset(projection).order_by().values_list("pk", "source_id").iterator(chunk_size=50_000))
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

    A batch's new rows are inserted from a thread while the next batch's golden records are computed (same
    connection, same transaction): the server's half of the work (JSON, indexes, foreign keys) and the worker's
    then take a core each instead of taking turns.
    """
    now = timezone.now()
    rules = golden.rules_of(entity_type)
    overrides = golden.live_overrides(entity_type)
    old_members: dict[str, set[int]] = defaultdict(set)
    for record, entity_id in previous.items():
        old_members[entity_id].add(record)
    entity_counts = {"entities": len(edited.clusters), **assignment.counts(), "values_changed": 0}
    batch_size = RECORDS_PER_BATCH if connection.vendor == "postgresql" else RECORDS_PER_BATCH_SQLITE
    written = 0.0
    pending: _Writes | None = None
    with _foreign_keys_checked_per_statement(), BackgroundInserts() as inserts:
        for batch in _batches(edited.clusters, batch_size):
            read = _read_batch(entity_type, edited, assignment, confidence, projection, overrides, batch, changed)
            clock = time.perf_counter()
            if pending is not None:
                inserts.send(pending.inserts)  # the previous batch's rows, written while this one is computed
            written += time.perf_counter() - clock
            writes = _compute_batch(job, entity_type, edited, assignment, confidence, old_members, rules, overrides,
                                    read, entity_counts, now)
            clock = time.perf_counter()
            inserts.wait()
            if pending is not None:
                pending.update()  # after its inserts: an updated membership may name an entity inserted with them
            pending = writes
            written += time.perf_counter() - clock
        clock = time.perf_counter()
        if pending is not None:
            inserts.send(pending.inserts)
            inserts.wait()
            pending.update()
        written += time.perf_counter() - clock
    # Of the golden records stage, the time spent waiting for writes (COPY, updates), the rest being reads and
    # survivorship (the writes done meanwhile are not counted).
    progress.timings["golden records: writes"] = round(written, 3)
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
    insert_rows(RunChange, CHANGE_COLUMNS, _change_rows(changes, now))
    return entity_counts


def _batches(clusters: list[frozenset[int]], size: int) -> Iterator[list[int]]:
    """Indexes of consecutive clusters with about `size` records in all (a cluster is never split)."""
    batch: list[int] = []
    members = 0
    for index, cluster in enumerate(clusters):
        batch.append(index)
        members += len(cluster)
        if members >= size:
            yield batch
            batch, members = [], 0
    if batch:
        yield batch


@contextlib.contextmanager
def _foreign_keys_checked_per_statement() -> Iterator[None]:
    """On PostgreSQL, foreign keys checked as each write ends instead of at commit.

    Deferred (Django's default), the checks of a run's few hundred thousand new rows all ran at commit, on one
    core, after everything else (2.7 CPU seconds at 100,000 records); checked per statement they run in the
    background inserts, beside the worker's computing. Rows are written in an order that never breaks a key
    meanwhile (an entity before the memberships naming it).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@dataclass
class _Read:
    """What one batch of clusters reads: memberships, member records' facts, entities (all of the batch only)."""

    batch: list[int]
    memberships: dict[int, tuple]
    desired: dict[int, tuple[str, float | None, str, int | None]]
    facts: dict[int, dict]
    existing: dict[str, Entity]


@dataclass
class _Writes:
    """What one batch writes: new rows (inserted in the background) and changed ones (updated after them)."""

    inserts: list[tuple]
    entities: list[Entity]
    memberships: list[Membership]

    def update(self) -> None:
        Entity.objects.bulk_update(self.entities, ["size", "confidence", "golden", "provenance", "pinned", "changed_job",
                                                   "updated_at"], batch_size=2000)
        Membership.objects.bulk_update(self.memberships, ["entity", "confidence", "reason", "edit", "job"], batch_size=2000)


def _read_batch(entity_type, edited, assignment, confidence, projection, overrides, batch, changed) -> _Read:
    records = [record for index in batch for record in edited.clusters[index]]
    # Plain rows: most are unchanged, and building a model instance per record cost more than comparing it.
    memberships = {row[1]: row for row in Membership.objects.filter(among(Membership, "record", records), entity_type=entity_type)
                   .values_list("pk", "record_id", "entity_id", "confidence", "reason", "edit_id", "job_id")}
    desired: dict[int, tuple[str, float | None, str, int | None]] = {}
    if changed is not None:
        batch = _drop_unchanged(entity_type, edited, assignment, confidence, overrides, batch, changed, desired)
        records = [record for index in batch for record in edited.clusters[index]]
    facts = golden.record_facts(projection, record_ids=records)
    ids = [assignment.ids[index] for index in batch]
    existing = {str(e.pk): e for e in Entity.objects.filter(among(Entity, "id", ids), entity_type=entity_type, retired_at__isnull=True)}
    return _Read(batch, memberships, desired, facts, existing)


def _compute_batch(job, entity_type, edited, assignment, confidence, old_members, rules, overrides, read: _Read,
                   entity_counts, now) -> _Writes:
    new_entities, new_changes, changed_entities, changes = [], [], [], []
    desired, facts, existing = read.desired, read.facts, read.existing
    for index in read.batch:
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
    new_memberships, changed_memberships = _membership_writes(job, entity_type, desired, read.memberships)
    # Entities first: the memberships name them, and keys are checked as each insert ends.
    inserts = [(Entity, ENTITY_COLUMNS, new_entities), (Membership, MEMBERSHIP_COLUMNS, new_memberships),
               (RunChange, CHANGE_COLUMNS, new_changes + _change_rows(changes, now))]
    return _Writes(inserts, changed_entities, changed_memberships)


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


def _membership_writes(job, entity_type, desired, existing) -> tuple[list[tuple], list[Membership]]:
    """(rows to insert, memberships to update) that give each record its desired entity, confidence and reason."""
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
    return create, update


ENTITY_COLUMNS = ["id", "entity_type_id", "size", "confidence", "golden", "provenance", "pinned", "created_job_id",
                  "changed_job_id", "retired_at", "retired_into_id", "created_at", "updated_at"]
MEMBERSHIP_COLUMNS = ["entity_type_id", "entity_id", "record_id", "confidence", "reason", "edit_id", "job_id"]
CHANGE_COLUMNS = ["entity_type_id", "job_id", "edit_id", "entity_id", "kind", "added", "removed", "golden_before",
                  "golden_after", "related", "created_at"]


def _change_rows(changes: list[RunChange], now) -> list[tuple]:
    return [(c.entity_type_id, c.job_id, c.edit_id, uuid.UUID(str(c.entity_id)), c.kind, c.added, c.removed, c.golden_before,
             c.golden_after, c.related, now) for c in changes]

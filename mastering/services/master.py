"""The batch mastering job: block, pair (in the database), score in chunks, cluster, keep ids, write golden records.

Stages run as separate tasks so scoring spreads over workers:
  run_master_job   block keys → BlockKey rows, pairs by a join → ScoredPair rows in chunks, one task per chunk
  score_pairs      one chunk: load its records, score, store scores; the last chunk starts finish_master
  finish_master    cluster, apply curator edits, assign persistent ids, write entities, memberships,
                   golden records and run changes in one transaction (a dead worker leaves nothing half-written)
"""

import hashlib
from collections import defaultdict
import logging
import time

import numpy
from django.db import connection, transaction
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activity
from mastering import engine, tasks
from mastering.mapping import iter_mapped_records, mapped_records, projection_for
from mastering.models import (
    BlockKey,
    ClusterEdit,
    Entity,
    EntityType,
    Job,
    MatchModel,
    Membership,
    RunChange,
    ScoredPair,
    SourceRecord,
)
from mastering.resolution.edits import Edit, apply_edits
from mastering.resolution.identity import assign_ids
from mastering.services import golden
from mastering.services.jobs import CONTINUES, JobCancelled, Progress, finish_job, fail_job
from steward.errors import ServiceError

logger = logging.getLogger(__name__)

RECORD_CHUNK = 20_000
PAIR_CHUNK = 50_000
MAX_BLOCK_SIZE = engine.DEFAULT_MAX_BLOCK_SIZE
CLUSTER_FLOOR = 0.5


class NotTrained(ServiceError):
    pass


def _matcher(model: MatchModel) -> engine.Matcher:
    # Loaded once per process per model version; the same cache the labeling page uses.
    from curation.services.learning import matcher_for  # noqa: PLC0415  (curation registers itself; see apps)

    return matcher_for(model)


def block_hash(predicate: int, key: str) -> int:
    """A signed 64-bit hash of a block, so the join compares integers, not strings."""
    digest = hashlib.blake2b(f"{predicate}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# --- stage 1: blocking and pairing ---------------------------------------------------------------

def run_master_job(job: Job, progress: Progress):
    """Job runner: write block keys, join them into pairs, and hand the pairs to scoring tasks."""
    entity_type = job.entity_type
    model = entity_type.active_model
    if model is None:
        raise NotTrained(f"{entity_type.name} has no model yet: label pairs in the queue (or import labels) and train first.")
    Job.objects.filter(pk=job.pk).update(model=model)
    job.model = model
    _clear_old_run_data(job)
    projection = projection_for(entity_type)
    matcher = _matcher(model)
    total = SourceRecord.objects.filter(source_id__in=projection.source_ids, retired=False).count()
    progress.begin("computing blocking keys", 0.01)
    records_seen = keys_written = 0
    chunk: dict[int, dict] = {}
    sources: dict[int, int] = {}
    for record_id, source_id, values in iter_mapped_records(projection):
        chunk[record_id] = values
        sources[record_id] = source_id
        if len(chunk) >= RECORD_CHUNK:
            keys_written += _write_block_keys(job, matcher, chunk, sources)
            records_seen += len(chunk)
            chunk, sources = {}, {}
            progress.update(0.02 + 0.18 * records_seen / max(total, 1), records=records_seen)
    if chunk:
        keys_written += _write_block_keys(job, matcher, chunk, sources)
        records_seen += len(chunk)
    progress.update(0.2, records=records_seen, block_keys=keys_written)
    progress.begin("pairing on blocking keys", 0.2)
    report = _pair_records(job, matcher.predicates(), one_per_source=entity_type.one_per_source)
    BlockKey.objects.filter(job=job).delete()
    pairs = ScoredPair.objects.filter(job=job).count()
    chunks = list(ScoredPair.objects.filter(job=job).values_list("chunk", flat=True).distinct().order_by("chunk"))
    progress.update(0.3, pairs=pairs, per_predicate=report, chunks=len(chunks))
    progress.begin("scoring", 0.3)
    progress.stage_done()
    Job.objects.filter(pk=job.pk).update(timings=progress.timings)
    if not chunks:
        _start_finish(job)
        return CONTINUES
    for number in chunks:
        tasks.score_pairs.delay(job.pk, number)
    return CONTINUES


def _clear_old_run_data(job: Job) -> None:
    """Block keys are scratch; scored pairs are kept only for the latest finished run (diagnostics)."""
    runs = Job.objects.filter(entity_type=job.entity_type, kind=Job.Kind.MASTER)
    BlockKey.objects.filter(job__in=runs).exclude(job=job).delete()
    ScoredPair.objects.filter(job__in=runs.exclude(status=Job.Status.DONE)).exclude(job=job).delete()


def _write_block_keys(job: Job, matcher: engine.Matcher, records: dict[int, dict], sources: dict[int, int]) -> int:
    rows = [(predicate, block_hash(predicate, key), rid, sources[rid]) for predicate, key, rid in matcher.blocking_keys(records)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.copy(
            "COPY mastering_blockkey (job_id, predicate, block, record, source) FROM STDIN"
        ) as copy:
            for predicate, block, rid, source in rows:
                copy.write_row((job.pk, predicate, block, rid, source))
    else:
        BlockKey.objects.bulk_create(
            [BlockKey(job=job, predicate=p, block=b, record=r, source=s) for p, b, r, s in rows], batch_size=5000
        )
    return len(rows)


def _pair_records(job: Job, predicate_names: list[str], *, one_per_source: bool) -> list[dict]:
    """Join block keys into distinct pairs inside the database, skipping blocks over the size cap."""
    cross_source = "AND a.source <> b.source" if one_per_source else ""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT predicate, COUNT(*) AS blocks,
                   SUM(CASE WHEN n > %(cap)s THEN 1 ELSE 0 END) AS capped_blocks,
                   SUM(CASE WHEN n > %(cap)s THEN n ELSE 0 END) AS capped_records,
                   SUM(CASE WHEN n <= %(cap)s THEN n * (n - 1) / 2 ELSE 0 END) AS pairs
            FROM (SELECT predicate, block, COUNT(*) AS n FROM mastering_blockkey WHERE job_id = %(job)s
                  GROUP BY predicate, block HAVING COUNT(*) > 1) sized
            GROUP BY predicate ORDER BY predicate
            """,
            {"job": job.pk, "cap": MAX_BLOCK_SIZE},
        )
        report = [
            {"predicate": predicate_names[p] if p < len(predicate_names) else str(p), "blocks": int(blocks),
             "capped_blocks": int(capped or 0), "capped_records": int(capped_records or 0), "pairs": int(pairs or 0)}
            for p, blocks, capped, capped_records, pairs in cursor.fetchall()
        ]
        cursor.execute(
            f"""
            INSERT INTO mastering_scoredpair (job_id, "left", "right", chunk, score)
            SELECT %(job)s, pair_left, pair_right, (ROW_NUMBER() OVER (ORDER BY pair_left, pair_right) - 1) / %(chunk)s, NULL
            FROM (
                SELECT DISTINCT a.record AS pair_left, b.record AS pair_right
                FROM mastering_blockkey a
                JOIN mastering_blockkey b ON b.job_id = a.job_id AND b.block = a.block AND a.record < b.record {cross_source}
                WHERE a.job_id = %(job)s AND a.block IN (
                    SELECT block FROM mastering_blockkey WHERE job_id = %(job)s GROUP BY block HAVING COUNT(*) <= %(cap)s
                )
            ) pairs
            """,
            {"job": job.pk, "cap": MAX_BLOCK_SIZE, "chunk": PAIR_CHUNK},
        )
    return report


# --- stage 2: scoring chunks ---------------------------------------------------------------------

def score_pairs(*, job_id: int, chunk: int) -> None:
    """Score one chunk of a run's pairs; whoever scores the last chunk starts the finish."""
    job = Job.objects.select_related("entity_type", "model").filter(pk=job_id).first()
    if job is None or job.status != Job.Status.RUNNING:
        return
    if job.cancel_requested:
        fail_job(job, cancelled=True)
        return
    started = time.perf_counter()
    pending = list(ScoredPair.objects.filter(job=job, chunk=chunk, score__isnull=True).values_list("id", "left", "right"))
    if pending:
        try:
            _score(job, pending)
        except Exception as exc:
            logger.exception("Scoring chunk %s of job %s failed", chunk, job_id)
            fail_job(job, error=f"Scoring failed: {type(exc).__name__}: {exc}")
            raise
    remaining = ScoredPair.objects.filter(job=job, score__isnull=True).count()
    total = job.counts.get("pairs") or 1
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        progress=0.3 + 0.5 * (1 - remaining / total), heartbeat_at=timezone.now(),
    )
    _add_timing(job.pk, "scoring (sum over chunks)", time.perf_counter() - started)
    if remaining == 0:
        _start_finish(job)


def _score(job: Job, pending: list[tuple[int, int, int]]) -> None:
    projection = projection_for(job.entity_type)
    ids = {rid for _, left, right in pending for rid in (left, right)}
    records = mapped_records(projection, record_ids=ids)
    pair_array = numpy.array([(left, right) for _, left, right in pending], dtype=numpy.int64)
    scores: dict[tuple[int, int], float] = {}
    for scored in _matcher(job.model).score(pair_array, records):
        for (left, right), score in zip(scored["pairs"].tolist(), scored["score"].tolist()):
            scores[(left, right)] = score
    values = [(pair_id, float(scores.get((left, right), 0.0))) for pair_id, left, right in pending]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE mastering_scoredpair p SET score = v.score FROM "
                "(SELECT unnest(%s::bigint[]) AS id, unnest(%s::float8[]) AS score) v WHERE p.id = v.id",
                [[v[0] for v in values], [v[1] for v in values]],
            )
        else:
            cursor.executemany("UPDATE mastering_scoredpair SET score = %s WHERE id = %s", [(s, i) for i, s in values])


def _add_timing(job_id: int, name: str, seconds: float) -> None:
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        job.timings = {**job.timings, name: round(job.timings.get(name, 0) + seconds, 3)}
        Job.objects.filter(pk=job_id).update(timings=job.timings)


def _start_finish(job: Job) -> None:
    # Compare-and-set on the stage: a redelivered last chunk cannot start the finish twice.
    if Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).exclude(stage="clustering").update(stage="clustering"):
        tasks.finish_master.delay(job.pk)


# --- stage 3: clusters, ids, golden records ------------------------------------------------------

def finish_master(*, job_id: int) -> Job | None:
    """Cluster the scored pairs, apply edits, keep ids, and write the run's results in one transaction."""
    job = Job.objects.select_related("entity_type", "model", "started_by").filter(pk=job_id).first()
    if job is None or job.status != Job.Status.RUNNING:
        return job
    progress = Progress(job)
    progress.timings = dict(job.timings)
    try:
        counts = _finish(job, progress)
    except JobCancelled:
        fail_job(job, cancelled=True)
        return job
    except Exception as exc:
        logger.exception("Finishing master job %s failed", job_id)
        fail_job(job, error=f"{type(exc).__name__}: {exc}")
        raise
    progress.stage_done()
    finish_job(job, counts=counts, timings=progress.timings)
    return job


def _finish(job: Job, progress: Progress) -> dict:
    entity_type = job.entity_type
    progress.begin("clustering", 0.8)
    facts = golden.record_facts(projection_for(entity_type))
    live = set(facts)
    # Pairs far below the threshold cannot join a cluster; leaving them out keeps connected components small.
    floor = entity_type.match_threshold * CLUSTER_FLOOR
    scored = ScoredPair.objects.filter(job=job, score__gte=floor).values_list("left", "right", "score")
    pairs = numpy.array([((left, right), score) for left, right, score in scored.iterator(chunk_size=50_000)],
                        dtype=engine.SCORE_DTYPE)
    group_of = {rid: str(fact["source_id"]) for rid, fact in facts.items()} if entity_type.one_per_source else None
    clusters = engine.cluster_pairs(pairs, threshold=entity_type.match_threshold, group_of=group_of) if len(pairs) else []
    confidence: dict[int, float] = {}
    grouped: list[frozenset[int]] = []
    for cluster in clusters:
        members = frozenset(r for r in cluster.record_ids if r in live)
        if members:
            grouped.append(members)
        confidence.update({r: round(float(c), 4) for r, c in zip(cluster.record_ids, cluster.confidences)})
    clustered = set().union(*grouped) if grouped else set()
    grouped += [frozenset([r]) for r in sorted(live - clustered)]
    progress.begin("applying curator edits", 0.84)
    edited = apply_edits(grouped, _edits(entity_type), live)
    progress.begin("keeping entity ids", 0.86)
    previous = dict(Membership.objects.filter(entity_type=entity_type).values_list("record_id", "entity_id"))
    previous = {record: str(entity) for record, entity in previous.items()}
    seniority = {str(pk): (created.timestamp(),) for pk, created in
                 Entity.objects.filter(entity_type=entity_type).values_list("pk", "created_at")}
    assignment = assign_ids(edited.clusters, previous, seniority=seniority, forced=edited.forced_ids)
    progress.begin("golden records", 0.9)
    with transaction.atomic():
        counts = _write_results(job, entity_type, edited, assignment, confidence, facts, previous)
        record_activity(
            kind=Activity.Kind.MASTER, actor=job,
            summary=f"{entity_type.name}: {counts['entities']} entities from {len(live)} records "
                    f"({counts['new']} new, {counts['unchanged']} unchanged, {counts['retired']} retired)",
            inputs=[entity_type, job.model], outputs=[job],
            parameters={"model_version": job.model.version, "threshold": entity_type.match_threshold, **counts},
        )
    return counts


def _edits(entity_type: EntityType) -> list[Edit]:
    edits = []
    for edit in ClusterEdit.objects.filter(entity_type=entity_type, active=True).order_by("created_at", "id"):
        anchor = frozenset(edit.records[1:]) if edit.kind == ClusterEdit.Kind.MOVE else frozenset()
        records = frozenset(edit.records[:1]) if edit.kind == ClusterEdit.Kind.MOVE else frozenset(edit.records)
        edits.append(Edit(edit.kind, str(edit.entity_id) if edit.entity_id else None, records, anchor, edit_id=edit.pk))
    return edits


def _write_results(job, entity_type, edited, assignment, confidence, facts, previous) -> dict:
    now = timezone.now()
    rules = golden.rules_of(entity_type)
    overrides = golden.live_overrides(entity_type)
    old_members: dict[str, set[int]] = defaultdict(set)
    for record, entity_id in previous.items():
        old_members[entity_id].add(record)
    existing = {str(e.pk): e for e in Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True)}
    memberships = {m.record_id: m for m in Membership.objects.filter(entity_type=entity_type)}
    new_entities, changed_entities, changes = [], [], []
    desired: dict[int, tuple[str, float | None, str, int | None]] = {}
    entity_counts = {"entities": len(edited.clusters), **assignment.counts(), "values_changed": 0}
    for index, members in enumerate(edited.clusters):
        entity_id = assignment.ids[index]
        pinned = index in edited.pinned
        for record in members:
            edit_id = edited.edited_records.get(record)
            if pinned:
                reason = Membership.Reason.PINNED
            elif edit_id is not None:
                reason = Membership.Reason.EDIT
            elif len(members) == 1:
                reason = Membership.Reason.SINGLETON
            else:
                reason = Membership.Reason.MODEL
            desired[record] = (entity_id, confidence.get(record) if len(members) > 1 else None, reason, edit_id)
        golden_values, provenance = golden.golden_for(rules, members, facts, overrides.get(entity_id))
        member_confidence = [desired[r][1] for r in members if desired[r][1] is not None]
        size, lowest = len(members), (min(member_confidence) if member_confidence else None)
        before_members = old_members.get(entity_id, set())
        kind = assignment.kinds[index]
        entity = existing.get(entity_id)
        if entity is None:
            new_entities.append(Entity(id=entity_id, entity_type=entity_type, size=size, confidence=lowest, golden=golden_values,
                                       provenance=provenance, pinned=pinned, created_job=job, changed_job=job))
            changes.append(RunChange(entity_type=entity_type, job=job, entity_id=entity_id, kind=RunChange.Kind.NEW,
                                     added=sorted(members), golden_after=golden_values))
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
        changed_entities.append(entity)
    Entity.objects.bulk_create(new_entities, batch_size=2000)
    Entity.objects.bulk_update(changed_entities, ["size", "confidence", "golden", "provenance", "pinned", "changed_job", "updated_at"], batch_size=2000)
    _write_memberships(job, entity_type, desired, memberships)
    for old_id, survivor in assignment.retired.items():
        Entity.objects.filter(pk=old_id).update(retired_at=now, retired_into_id=survivor, size=0, changed_job=job)
        Entity.objects.filter(retired_into_id=old_id).update(retired_into_id=survivor)  # redirects stay one hop
        entity = existing.get(old_id)
        changes.append(RunChange(entity_type=entity_type, job=job, entity_id=old_id, kind=RunChange.Kind.RETIRED,
                                 removed=sorted(old_members.get(old_id, ())),
                                 golden_before=entity.golden if entity else {}, related=[survivor] if survivor else []))
    RunChange.objects.bulk_create(changes, batch_size=2000)
    return entity_counts


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-6)


def _write_memberships(job, entity_type, desired, existing) -> None:
    create, update = [], []
    for record, (entity_id, confidence, reason, edit_id) in desired.items():
        membership = existing.get(record)
        if membership is None:
            create.append(Membership(entity_type=entity_type, entity_id=entity_id, record_id=record, confidence=confidence,
                                     reason=reason, edit_id=edit_id, job=job))
        elif (str(membership.entity_id), membership.reason, membership.edit_id) != (entity_id, reason, edit_id) \
                or not _same(membership.confidence, confidence):
            if str(membership.entity_id) != entity_id:
                membership.job = job
            membership.entity_id, membership.confidence, membership.reason, membership.edit_id = entity_id, confidence, reason, edit_id
            update.append(membership)
    gone = [record for record in existing if record not in desired]
    if gone:
        for start in range(0, len(gone), 900):
            Membership.objects.filter(entity_type=entity_type, record_id__in=gone[start:start + 900]).delete()
    Membership.objects.bulk_update(update, ["entity", "confidence", "reason", "edit", "job"], batch_size=2000)
    Membership.objects.bulk_create(create, batch_size=5000)

"""Incremental runs: a run with the last finished run's model, mappings and rules redoes only what changed.

Every run snapshots the version of each live record as it starts (RunRecord rows). When the last finished run
had the same model and the same basis (mappings, survivorship rules, source priorities), the records whose
version differs between the two snapshots (new, changed or retired: "changed" below) are all the run has to
look at again. Their keys in the match index are replaced (unchanged records' keys are already there), the
pairs of two unchanged records keep the score the last run gave them, and only pairs with a changed record are
formed (from the blocks that record is in) and scored. The finish recomputes golden records only of entities
whose members or member records changed.

Nothing here is a cache that can go stale on its own: the index is kept by every run and streamed record, and
a pair's score is reused only when both its records have the version they had when it was scored.
"""

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import connection, transaction

from mastering.mapping import Projection, iter_mapped_records
from mastering.models import Job, RecordBlockKey, RunRecord, ScoredPair, Source
from mastering.services import match_index
from mastering.services.jobs import Progress
from steward.db import insert_rows

# Above this share of changed records a run blocks and pairs everything again (still reusing scores): the
# per-record work of an incremental run is dearer than the set-based full pass.
INCREMENTAL_SHARE = 0.25


@dataclass(frozen=True)
class Basis:
    """The last finished run a run builds on, and the records that changed since it."""

    previous: Job
    changed: list[int]  # live records new or changed since the previous run's snapshot
    retired: list[int]  # records in the previous run's snapshot that are no longer live

    @property
    def touched(self) -> set[int]:
        return set(self.changed) | set(self.retired)


def basis_digest(projection: Projection) -> str:
    """A digest of what a run's results depend on besides the records and the model: mappings, rules, sources."""
    attributes = [(a.name, a.comparator, a.survivorship) for a in projection.attributes]
    feeds = {str(source): [(f.attribute, f.field, list(f.transforms)) for f in feeds] for source, feeds in
             sorted(projection.feeds.items())}
    sources = list(Source.objects.filter(pk__in=projection.source_ids).order_by("pk").values_list("pk", "slug", "priority"))
    text = json.dumps([attributes, feeds, sources, projection.entity_type.one_per_source], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def snapshot(job: Job, projection: Projection) -> list[int]:
    """Write the versions of the live records the run starts from; returns their ids in order."""
    sources = projection.source_ids
    if sources:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO mastering_runrecord (job_id, record, version) SELECT %s, id, version FROM mastering_sourcerecord "
                f"WHERE retired = %s AND source_id IN ({', '.join(['%s'] * len(sources))})",
                [job.pk, False, *sources])
    return list(RunRecord.objects.filter(job=job).order_by("record").values_list("record", flat=True))


def find_basis(job: Job, digest: str) -> Basis | None:
    """The last finished run with this run's model and basis, and what changed since; None if there is none."""
    previous = (Job.objects.filter(entity_type_id=job.entity_type_id, kind=Job.Kind.MASTER, status=Job.Status.DONE)
                .exclude(pk=job.pk).order_by("-finished_at", "-pk").first())
    if previous is None or previous.model_id != job.model_id or (previous.counts or {}).get("basis") != digest:
        return None
    if not RunRecord.objects.filter(job=previous).exists():
        return None  # finished before runs kept snapshots
    if ScoredPair.objects.filter(job=previous).count() != (previous.counts or {}).get("pairs", 0):
        return None  # its pairs are gone (or were never all kept): there is nothing whole to build on
    return changes_since(job, previous)


def changes_since(job: Job, previous: Job) -> Basis:
    """Records whose version differs between the two runs' snapshots."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.record FROM mastering_runrecord n LEFT JOIN mastering_runrecord o ON o.job_id = %s AND o.record = n.record "
            "WHERE n.job_id = %s AND (o.record IS NULL OR o.version <> n.version)", [previous.pk, job.pk])
        changed = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT o.record FROM mastering_runrecord o LEFT JOIN mastering_runrecord n ON n.job_id = %s AND n.record = o.record "
            "WHERE o.job_id = %s AND n.record IS NULL", [job.pk, previous.pk])
        retired = sorted(row[0] for row in cursor.fetchall())
    return Basis(previous=previous, changed=changed, retired=retired)


def basis_of(job: Job) -> Basis | None:
    """The basis a running job found when it started (None for a run that builds on nothing)."""
    previous_id = (job.counts or {}).get("incremental_from")
    previous = Job.objects.filter(pk=previous_id).first() if previous_id else None
    return changes_since(job, previous) if previous is not None else None


def small_enough(basis: Basis, records: int) -> bool:
    return len(basis.touched) <= INCREMENTAL_SHARE * max(records, 1)


def pair_incrementally(job: Job, basis: Basis, progress: Progress, projection: Projection, *, cross_source: bool,
                       text_attributes: bool, pairs_per_chunk: int) -> bool:
    """Re-index the changed records, keep the previous run's other pairs and form the changed records' pairs.

    False (nothing paired, the changed records' keys indexed) when the block size cap moved or a block touched by a
    change crossed it: pairs of unchanged records might then come or go, so the caller pairs everything again.
    """
    from mastering.services.master.blocking import block_keys, block_report  # blocking imports this module

    previous = basis.previous
    touched = sorted(basis.touched)
    progress.begin("blocking changed records", 0.05)
    records, sources = {}, {}
    for start in range(0, len(basis.changed), 20_000):
        for record_id, source_id, values in iter_mapped_records(projection, record_ids=basis.changed[start:start + 20_000]):
            records[record_id], sources[record_id] = values, source_id
    keys = block_keys(job, records, sources) if records else []
    with transaction.atomic():
        change = match_index.reindex_records(job=job, record_ids=touched, keys=keys)
    progress.update(0.2, changed_records=len(basis.changed), retired_records=len(basis.retired))
    progress.begin("pairing on blocking keys", 0.22)
    report = (previous.counts or {}).get("per_predicate") or []
    previous_cap = next((row.get("block_size_cap") for row in report if "block_size_cap" in row), None)
    cap = previous_cap
    if touched:
        if text_attributes:
            return False  # nearest neighbours by text are found over all records at once
        cap, report = block_report(job)
        if cap != previous_cap or _crosses_cap(job, change, keys, cap):
            return False
    with transaction.atomic():
        kept = _keep_unchanged_pairs(job, previous)
        new_pairs = _pairs_of_changed(job, keys, set(basis.changed), cap, cross_source=cross_source) if keys else []
        insert_rows(ScoredPair, ["job_id", "left", "right", "chunk", "score"],
                    ((job.pk, left, right, i // pairs_per_chunk, None) for i, (left, right) in enumerate(new_pairs)))
    chunks = (len(new_pairs) + pairs_per_chunk - 1) // pairs_per_chunk
    progress.update(0.3, pairs=kept + len(new_pairs), pairs_scored=len(new_pairs), pairs_reused=kept,
                    per_predicate=report, chunks=chunks)
    from mastering.services.master.scoring import start_scoring

    progress.begin("scoring", 0.3)
    progress.stage_done()
    Job.objects.filter(pk=job.pk).update(timings=progress.timings)
    start_scoring(job, list(range(chunks)))
    return True


def _crosses_cap(job: Job, change: match_index.IndexChange, keys: list, cap: int) -> bool:
    """Whether a block the changed records are in, or left, is over the cap now or was before the change."""
    blocks = change.touched_blocks | {block for _, block, _, _ in keys}
    delta: Counter[int] = Counter()
    for _, block, _, _ in change.added:
        delta[block] += 1
    for _, block, _, _ in change.removed:
        delta[block] -= 1
    sizes = _block_sizes(job, sorted(blocks))
    return any(size > cap or size - delta[block] > cap for block, size in sizes.items())


def _block_sizes(job: Job, blocks: list[int]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    step = 900 if connection.vendor == "sqlite" else 50_000
    for start in range(0, len(blocks), step):
        part = blocks[start:start + step]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT block, COUNT(*) FROM mastering_recordblockkey WHERE model_id = %s "
                           f"AND block IN ({', '.join(['%s'] * len(part))}) GROUP BY block", [job.model_id, *part])
            sizes.update(cursor.fetchall())
    return sizes


def _keep_unchanged_pairs(job: Job, previous: Job) -> int:
    """Copy the previous run's pairs whose two records kept their version, with their scores; returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO mastering_scoredpair (job_id, "left", "right", chunk, score)
            SELECT %s, p."left", p."right", -1, p.score FROM mastering_scoredpair p
            JOIN mastering_runrecord a ON a.job_id = %s AND a.record = p."left"
            JOIN mastering_runrecord a0 ON a0.job_id = %s AND a0.record = p."left" AND a0.version = a.version
            JOIN mastering_runrecord b ON b.job_id = %s AND b.record = p."right"
            JOIN mastering_runrecord b0 ON b0.job_id = %s AND b0.record = p."right" AND b0.version = b.version
            WHERE p.job_id = %s AND p.score IS NOT NULL
            """,
            [job.pk, job.pk, previous.pk, job.pk, previous.pk, previous.pk])
        return cursor.rowcount


def reuse_scores(job: Job, previous: Job) -> int:
    """Give this run's unscored pairs the previous run's score where both records kept their version."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                """
                UPDATE mastering_scoredpair n SET score = p.score FROM mastering_scoredpair p
                JOIN mastering_runrecord a0 ON a0.job_id = %(previous)s AND a0.record = p."left"
                JOIN mastering_runrecord b0 ON b0.job_id = %(previous)s AND b0.record = p."right",
                mastering_runrecord a, mastering_runrecord b
                WHERE n.job_id = %(job)s AND n.score IS NULL AND p.job_id = %(previous)s AND p.score IS NOT NULL
                  AND p."left" = n."left" AND p."right" = n."right"
                  AND a.job_id = %(job)s AND a.record = n."left" AND a.version = a0.version
                  AND b.job_id = %(job)s AND b.record = n."right" AND b.version = b0.version
                """,
                {"job": job.pk, "previous": previous.pk})
            return cursor.rowcount
    # SQLite (small data): in Python.
    versions = dict(RunRecord.objects.filter(job=job).values_list("record", "version"))
    before = dict(RunRecord.objects.filter(job=previous).values_list("record", "version"))
    same = {r for r, v in versions.items() if before.get(r) == v}
    scores = {(left, right): score for left, right, score in
              ScoredPair.objects.filter(job=previous, score__isnull=False).values_list("left", "right", "score")}
    updates = [(scores[(left, right)], pair_id) for pair_id, left, right in
               ScoredPair.objects.filter(job=job, score__isnull=True).values_list("id", "left", "right")
               if left in same and right in same and (left, right) in scores]
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE mastering_scoredpair SET score = %s WHERE id = %s", updates)
    return len(updates)


def _pairs_of_changed(job: Job, keys: list, changed: set[int], cap: int, *, cross_source: bool) -> list[tuple[int, int]]:
    """Distinct (left, right) pairs, left < right, of each changed record with the others in its blocks of at most cap."""
    blocks = sorted({block for _, block, _, _ in keys})
    members: dict[int, list[tuple[int, int]]] = defaultdict(list)
    step = 900 if connection.vendor == "sqlite" else 50_000
    for start in range(0, len(blocks), step):
        part = blocks[start:start + step]
        rows = RecordBlockKey.objects.filter(model_id=job.model_id, block__in=part).values_list("block", "record", "source")
        for block, record, source in rows.iterator(chunk_size=50_000):
            members[block].append((record, source))
    pairs: set[tuple[int, int]] = set()
    for block_members in members.values():
        if not 2 <= len(block_members) <= cap:
            continue
        for record, source in block_members:
            if record not in changed:
                continue
            for other, other_source in block_members:
                if other == record or (cross_source and other_source == source):
                    continue
                pairs.add((record, other) if record < other else (other, record))
    return sorted(pairs)

"""Stage 1 of a run: blocking keys per slice of records, then candidate pairs by a join in the database."""

import hashlib
import time

from django.db import connection, transaction
from django.db.models import Max

from mastering import engine, tasks
from mastering.mapping import iter_mapped_records, mapped_record_queryset, projection_for
from mastering.matchers import matcher_for
from mastering.models import BlockKey, Job, MatchModel, RunRecord, ScoredPair
from mastering.services.jobs import CONTINUES, Progress, fail_job
from mastering.services import match_index
from mastering.services.liveness import holding
from mastering.services.master import incremental
from mastering.services.master.chunks import Chunked, running, slices
from steward.db import insert_rows
from steward.errors import ServiceError

# Chunks small enough that two (or more) worker processes stay busy to the end of a stage (100,000 people: ten
# blocking chunks, ~13 scoring chunks), big enough that a chunk's fixed cost (its queries, the model) stays small.
RECORDS_PER_CHUNK = 10_000
PAIRS_PER_CHUNK = 10_000
BLOCKING, SCORING = "blocking", "scoring"


class NotTrained(ServiceError):
    pass


def matcher(model: MatchModel) -> engine.Matcher:
    # One matcher per model version per process, shared with the labeling page.
    return matcher_for(model)


def block_hash(predicate: int, key: str) -> int:
    """A signed 64-bit hash of a block, so the join compares integers, not strings."""
    digest = hashlib.blake2b(f"{predicate}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def block_keys(job: Job, records: dict[int, dict], sources: dict[int, int]) -> list[match_index.KeyRow]:
    """(predicate, block hash, record, source) of every blocking key the run's model gives these records."""
    rows: list[match_index.KeyRow] = []
    append = rows.append
    from_bytes = int.from_bytes
    for predicate, (keys, ids) in enumerate(matcher(job.model).keys_by_rule(records)):
        # The rule's prefix hashed once, then copied per key: the same digest as block_hash, at 60% of its cost.
        prefixed = hashlib.blake2b(f"{predicate}\x1f".encode(), digest_size=8)
        hashes: dict[str, int] = {}  # a block's key recurs once per member: hash it once
        for key, rid in zip(keys, ids):
            found = hashes.get(key)
            if found is None:
                digest = prefixed.copy()
                digest.update(key.encode())
                found = hashes[key] = from_bytes(digest.digest(), "big", signed=True)
            append((predicate, found, rid, sources[rid]))
    return rows


def run_master_job(job: Job, progress: Progress):
    """Job runner: check there is a model, snapshot the records, then redo what changed or hand out slices to block."""
    entity_type = job.entity_type
    model = entity_type.active_model
    if model is None:
        raise NotTrained(f"{entity_type.name} has no model yet: label pairs in the queue (or import labels) and train first.")
    Job.objects.filter(pk=job.pk).update(model=model)
    job.model = model
    _clear_old_run_data(job)
    progress.begin("computing blocking keys", 0.02)
    projection = projection_for(entity_type)
    ids = incremental.snapshot(job, projection)
    digest = incremental.basis_digest(projection)
    basis = incremental.find_basis(job, digest)
    progress.update(0.02, records=len(ids), basis=digest, incremental_from=basis.previous.pk if basis else None)
    if basis is not None and incremental.small_enough(basis, len(ids)):
        model_matcher = matcher(model)
        if incremental.pair_incrementally(job, basis, progress, projection, cross_source=entity_type.one_per_source,
                                          text_attributes=bool(model_matcher.text_attributes),
                                          pairs_per_chunk=PAIRS_PER_CHUNK):
            return CONTINUES
        # The cap moved: every record's keys are in the index already (the changed ones were just replaced).
        progress.stage_done()
        Job.objects.filter(pk=job.pk).update(timings=progress.timings)
        _pair_and_score(job)
        return CONTINUES
    progress.stage_done()
    Job.objects.filter(pk=job.pk).update(timings=progress.timings)
    # Slices cover the gaps between them, and the index loses records outside them: rows of records no longer live
    # (retired, or of a source no longer mapped) go as their slice is re-indexed.
    pieces = slices(ids, RECORDS_PER_CHUNK)
    pieces = [(first if n else 0, pieces[n + 1][0] - 1 if n + 1 < len(pieces) else last)
              for n, (first, last) in enumerate(pieces)]
    match_index.drop_records_outside(job=job, first=pieces[0][0] if pieces else 0, last=pieces[-1][1] if pieces else -1)
    numbers = Chunked(job, BLOCKING).plan(pieces or [(0, -1)])
    for number in numbers:
        tasks.block_records.delay(job.pk, number)
    return CONTINUES


def _clear_old_run_data(job: Job) -> None:
    """Block keys are scratch; scored pairs are kept only for finished runs (the latest one's are reused by the next).

    Snapshots of record versions are kept for the latest finished run, which the next run compares its own with.
    """
    runs = Job.objects.filter(entity_type=job.entity_type, kind=Job.Kind.MASTER)
    BlockKey.objects.filter(job__in=runs).exclude(job=job).delete()
    ScoredPair.objects.filter(job__in=runs.exclude(status=Job.Status.DONE)).exclude(job=job).delete()
    latest = runs.filter(status=Job.Status.DONE).order_by("-finished_at", "-pk").values_list("pk", flat=True).first()
    RunRecord.objects.filter(job__in=runs).exclude(job_id__in=[job.pk, latest]).delete()


def block_records(*, job_id: int, chunk: int) -> None:
    """Write the blocking keys of one slice of records; the last slice pairs them and starts scoring."""
    job = running(job_id)
    if job is None:
        return
    with holding(job, f"block_records {chunk}"):
        _block_records(job, chunk)


def _block_records(job: Job, chunk: int) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    stage = Chunked(job, BLOCKING)
    piece = stage.get(chunk)
    if piece is None or piece.done:
        return
    try:
        projection = projection_for(job.entity_type)
        records, sources = {}, {}
        for record_id, source_id, values in iter_mapped_records(projection, id_range=(piece.first, piece.last)):
            records[record_id], sources[record_id] = values, source_id
        keys = block_keys(job, records, sources)
        with transaction.atomic():
            # The run's keys go to the match index, which pairing joins and streaming reads; only what changed is
            # written, and a redelivered slice finds its rows already right.
            match_index.index_run_slice(job=job, first=piece.first, last=piece.last, keys=keys)
            last = stage.complete(chunk, started, cpu_started)
    except Exception as exc:
        fail_job(job, error=f"Blocking failed: {type(exc).__name__}: {exc}")
        raise
    Job.objects.filter(pk=job.pk).update(progress=0.02 + 0.2 * stage.fraction_done())
    if last:
        _pair_and_score(job)


def _pair_and_score(job: Job) -> None:
    progress = Progress(job)
    progress.timings = dict(Job.objects.get(pk=job.pk).timings)
    progress.cpu_timings = True
    progress.begin("pairing on blocking keys", 0.22)
    report = _pair_records(job, matcher(job.model).predicates(), one_per_source=job.entity_type.one_per_source)
    neighbours = _add_neighbour_pairs(job)
    if neighbours is not None:
        report.append(neighbours)
    basis = incremental.basis_of(job)
    reused = incremental.reuse_scores(job, basis.previous) if basis is not None else 0
    pairs = ScoredPair.objects.filter(job=job).count()
    chunk_numbers = sorted(set(ScoredPair.objects.filter(job=job, score__isnull=True).values_list("chunk", flat=True)))
    progress.update(0.3, pairs=pairs, pairs_scored=pairs - reused, pairs_reused=reused, per_predicate=report,
                    chunks=len(chunk_numbers))
    progress.begin("scoring", 0.3)
    progress.stage_done()
    Job.objects.filter(pk=job.pk).update(timings=progress.timings)
    from mastering.services.master.scoring import start_scoring

    start_scoring(job, chunk_numbers)


def _add_neighbour_pairs(job: Job) -> dict | None:
    """Add each record's nearest neighbours by text (models with text attributes) to the run's pairs; report them."""
    model_matcher = matcher(job.model)
    fields = model_matcher.text_attributes
    if not fields:
        return None
    records, sources = {}, {}
    for record_id, source_id, values in iter_mapped_records(projection_for(job.entity_type)):
        records[record_id], sources[record_id] = values, str(source_id)
    found = model_matcher.neighbour_pairs(records, group_of=sources if job.entity_type.one_per_source else None)
    existing = set(ScoredPair.objects.filter(job=job).values_list("left", "right").iterator(chunk_size=50_000))
    new = [pair for pair in found if pair not in existing]
    first_chunk = (ScoredPair.objects.filter(job=job).aggregate(last=Max("chunk"))["last"] or -1) + 1
    insert_rows(ScoredPair, ["job_id", "left", "right", "chunk", "score"],
                ((job.pk, left, right, first_chunk + i // PAIRS_PER_CHUNK, None) for i, (left, right) in enumerate(new)))
    name = f"{engine.RUN_NEIGHBOURS} nearest neighbours by text of {', '.join(fields)}"
    if not found and len(records) > engine.MAX_NEIGHBOUR_RECORDS:
        name += f" (skipped: over {engine.MAX_NEIGHBOUR_RECORDS:,} records)"
    return {"predicate": name, "blocks": 0, "capped_blocks": 0, "capped_records": 0, "pairs": len(found), "new_pairs": len(new)}


def block_report(job: Job, predicate_names: list[str] | None = None, *, cursor=None,
                 blocks_table: str | None = None) -> tuple[int, list[dict]]:
    """The block size cap for the run's keys in the match index, and per blocking rule its blocks and pairs.

    `blocks_table` names a table of the run's blocks of two or more records (block, predicate, n) made already
    (PostgreSQL pairing makes one): the figures come from it instead of two more passes over the index.
    """
    if cursor is None:
        with connection.cursor() as cursor:
            return block_report(job, predicate_names, cursor=cursor, blocks_table=blocks_table)
    if predicate_names is None:
        predicate_names = matcher(job.model).predicates()
    if blocks_table is not None:
        sizes_sql, sized_sql = f"SELECT n FROM {blocks_table}", f"SELECT predicate, n FROM {blocks_table}"
    else:
        sizes_sql = ("SELECT COUNT(*) AS n FROM mastering_recordblockkey WHERE model_id = %(model)s "
                     "GROUP BY block HAVING COUNT(*) > 1")
        sized_sql = ("SELECT predicate, block, COUNT(*) AS n FROM mastering_recordblockkey WHERE model_id = %(model)s "
                     "GROUP BY predicate, block HAVING COUNT(*) > 1")
    cursor.execute(f"SELECT n, COUNT(*) FROM ({sizes_sql}) sized GROUP BY n", {"model": job.model_id})
    records = (job.counts or {}).get("records") or mapped_record_queryset(projection_for(job.entity_type)).count()
    cap = engine.block_size_cap(dict(cursor.fetchall()), matcher(job.model).pair_budget(records))
    cursor.execute(
        f"""
        SELECT predicate, COUNT(*) AS blocks,
               SUM(CASE WHEN n > %(cap)s THEN 1 ELSE 0 END) AS capped_blocks,
               SUM(CASE WHEN n > %(cap)s THEN n ELSE 0 END) AS capped_records,
               SUM(CASE WHEN n <= %(cap)s THEN n * (n - 1) / 2 ELSE 0 END) AS pairs
        FROM ({sized_sql}) sized
        GROUP BY predicate ORDER BY predicate
        """,
        {"model": job.model_id, "cap": cap},
    )
    report = [
        {"predicate": predicate_names[p] if p < len(predicate_names) else str(p), "blocks": int(blocks),
         "capped_blocks": int(capped or 0), "capped_records": int(capped_records or 0), "pairs": int(pairs or 0),
         "block_size_cap": cap}
        for p, blocks, capped, capped_records, pairs in cursor.fetchall()
    ]
    return cap, report


def _pair_records(job: Job, predicate_names: list[str], *, one_per_source: bool) -> list[dict]:
    """Join block keys into distinct pairs inside the database, skipping the largest blocks the pair budget cannot take."""
    if connection.vendor == "postgresql":
        return _pair_records_postgresql(job, predicate_names, one_per_source=one_per_source)
    return _pair_records_portable(job, predicate_names, one_per_source=one_per_source)


def _pair_records_portable(job: Job, predicate_names: list[str], *, one_per_source: bool) -> list[dict]:
    cross_source = "AND a.source <> b.source" if one_per_source else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cap, report = block_report(job, predicate_names, cursor=cursor)
        cursor.execute(
            f"""
            INSERT INTO mastering_scoredpair (job_id, "left", "right", chunk, score)
            SELECT %(job)s, pair_left, pair_right, (ROW_NUMBER() OVER (ORDER BY pair_left, pair_right) - 1) / %(chunk)s, NULL
            FROM (
                SELECT DISTINCT a.record AS pair_left, b.record AS pair_right
                FROM (SELECT k.block, k.record, k.source FROM mastering_recordblockkey k
                      JOIN (SELECT block FROM mastering_recordblockkey WHERE model_id = %(model)s
                            GROUP BY block HAVING COUNT(*) BETWEEN 2 AND %(cap)s) kept ON kept.block = k.block
                      WHERE k.model_id = %(model)s) a
                JOIN mastering_recordblockkey b ON b.model_id = %(model)s AND b.block = a.block AND a.record < b.record {cross_source}
            ) pairs
            """,
            {"job": job.pk, "model": job.model_id, "cap": cap, "chunk": PAIRS_PER_CHUNK},
        )
    return report


def _pair_records_postgresql(job: Job, predicate_names: list[str], *, one_per_source: bool) -> list[dict]:
    """The same pairs as the portable join, from one pass over the index: each block's members as a sorted array.

    The self-join probed the index once per block and member (~12 s of server time at 100,000 records, its
    planner blind to a table just filled); grouping once, then pairing each array's members, takes a third,
    and the block report reads the grouped table instead of grouping the index twice more.
    """
    cross_source = "AND sources[i] <> sources[j]" if one_per_source else ""
    cross_source_of_two = "AND sources[1] <> sources[2]" if one_per_source else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")  # the grouping and its sorts stay in memory, not on disk
        # Row estimates of a table just filled are far off; JIT compiling for them cost more than the query.
        cursor.execute("SET LOCAL jit = off")
        # Dropped at commit, and here too: inside an outer transaction (tests, a caller's atomic block) there is none.
        cursor.execute("DROP TABLE IF EXISTS pg_temp.run_blocks")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE run_blocks ON COMMIT DROP AS
            SELECT block, MIN(predicate) AS predicate, COUNT(*)::int AS n,
                   array_agg(record ORDER BY record) AS records, array_agg(source ORDER BY record) AS sources
            FROM mastering_recordblockkey WHERE model_id = %(model)s GROUP BY block HAVING COUNT(*) > 1
            """,
            {"model": job.model_id},
        )
        cap, report = block_report(job, predicate_names, cursor=cursor, blocks_table="run_blocks")
        cursor.execute(
            f"""
            INSERT INTO mastering_scoredpair (job_id, "left", "right", chunk, score)
            SELECT %(job)s, pair_left, pair_right, (ROW_NUMBER() OVER (ORDER BY pair_left, pair_right) - 1) / %(chunk)s, NULL
            FROM (
                SELECT DISTINCT pair_left, pair_right FROM (
                    -- Over half the blocks hold two records: their one pair without a series of positions (a
                    -- third of the statement's time at 100,000 people).
                    SELECT records[1] AS pair_left, records[2] AS pair_right FROM run_blocks
                    WHERE n = 2 AND records[1] < records[2] {cross_source_of_two}
                    UNION ALL
                    SELECT records[i], records[j]
                    FROM run_blocks, generate_series(1, n - 1) AS i, generate_series(i + 1, n) AS j
                    WHERE n > 2 AND n <= %(cap)s AND records[i] < records[j] {cross_source}
                ) candidates
            ) pairs
            """,
            {"job": job.pk, "cap": cap, "chunk": PAIRS_PER_CHUNK},
        )
        cursor.execute("DROP TABLE run_blocks")
    return report

"""The match index: the blocking keys of every mastered record, kept in the database (RecordBlockKey).

Batch runs leave the keys of each slice of records here as they block it (`index_run_slice`), and each
streamed record replaces its own keys (`replace_record_keys`), so streaming needs no rebuild, survives a
restart and reads the same index from every web worker.

Candidate lookup (`candidate_records`) reads at most `cap + 1` rows per block of the probe through the
(model, block, record) index, so its cost depends on the probe's blocks, not on how many records are indexed.
A block holding more than `cap` records is skipped, as the batch pairing skips blocks over its size cap: such a
block ("same birth year") says little, and comparing it would make one request as slow as a scan.
"""

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy
from django.db import IntegrityError, connection, transaction

from mastering import engine
from mastering.models import EntityType, Job, MatchModel, RecordBlockKey
from steward.db import insert_integer_rows

# Streaming never compares more than this many records per block, whatever the last run's cap was: a block this
# large costs a request tens of milliseconds, and a record found only through such a block is rare.
STREAM_MAX_BLOCK = 500

KeyRow = tuple[int, int, int, int]  # (predicate, block hash, record id, source id)


@dataclass(frozen=True)
class Candidates:
    """Records sharing a block with the probe, and what the lookup left out."""

    records: dict[int, int]  # record id → source id
    blocks: int  # distinct blocks of the probe
    skipped_blocks: int  # blocks over the cap, not compared
    cap: int


@dataclass(frozen=True)
class IndexChange:
    """What re-indexing some records changed: the rows taken out and put in (both as KeyRow), and rows left alone."""

    removed: list[KeyRow]
    added: list[KeyRow]
    kept: int

    @property
    def touched_blocks(self) -> set[int]:
        """Blocks that lost or gained a member."""
        return {block for _, block, _, _ in self.removed} | {block for _, block, _, _ in self.added}


def index_run_slice(*, job: Job, first: int, last: int, keys: list[KeyRow]) -> IndexChange:
    """Make the index rows of one slice of records (ids first..last) equal the keys a batch run just computed.

    Only the difference is written (rows whose record, model, rule or block changed), so re-running over unchanged
    records writes nothing. Called inside the run's blocking transaction, so a redelivered slice finds its rows
    already right. Rows of other model versions for these records go: the index follows the model the records
    were mastered with; so do rows of records in the range that are no longer live.
    """
    return _replace_rows(job, _stored_rows(job.entity_type_id, "record BETWEEN %s AND %s", [first, last]), keys)


def reindex_records(*, job: Job, record_ids: list[int], keys: list[KeyRow]) -> IndexChange:
    """Make the index rows of these records (changed, new or retired since the last run) equal the keys just computed."""
    stored: list[tuple] = []
    step = 900 if connection.vendor == "sqlite" else 50_000
    for start in range(0, len(record_ids), step):
        part = record_ids[start:start + step]
        stored += _stored_rows(job.entity_type_id, f"record IN ({', '.join(['%s'] * len(part))})", part)
    return _replace_rows(job, stored, keys)


def drop_records_outside(*, job: Job, first: int, last: int) -> int:
    """Take out of the index the entity type's records outside first..last (a full run's range of live records)."""
    rows = RecordBlockKey.objects.filter(entity_type_id=job.entity_type_id)
    if first <= last:
        rows = rows.exclude(record__gte=first, record__lte=last)
    return rows.delete()[0]


def _stored_rows(entity_type_id: int, condition: str, params: list) -> list[tuple]:
    """(model, predicate, block, record, source) of the index rows of an entity type that meet `condition`."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT model_id, predicate, block, record, source FROM mastering_recordblockkey "
                       f"WHERE entity_type_id = %s AND {condition}", [entity_type_id, *params])
        return cursor.fetchall()


def _replace_rows(job: Job, stored: list[tuple], keys: list[KeyRow]) -> IndexChange:
    # A row is one (model, block, record), the table's primary key: two rules' keys with one 64-bit hash are one
    # block (as the pairing's join treats them anyway).
    wanted = {(block, record): (predicate, block, record, source) for predicate, block, record, source in keys}
    present: set[tuple[int, int]] = set()
    doomed: list[tuple[int, int, int]] = []
    removed: list[KeyRow] = []
    for model_id, predicate, block, record, source in stored:
        row = (predicate, block, record, source)
        if model_id == job.model_id and wanted.get((block, record)) == row:
            present.add((block, record))
        else:  # another model's row, or a key the record no longer has
            doomed.append((model_id, block, record))
            removed.append(row)
    added = [row for key, row in wanted.items() if key not in present]
    if doomed:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM mastering_recordblockkey k USING unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
                               "AS d(model, block, record) WHERE k.model_id = d.model AND k.block = d.block AND k.record = d.record",
                               [list(column) for column in zip(*doomed)])
        else:
            for start in range(0, len(doomed), 300):  # three parameters a row, under SQLite's 999
                RecordBlockKey.objects.filter(pk__in=doomed[start:start + 300]).delete()
    _insert_sorted(job, added)
    return IndexChange(removed=removed, added=added, kept=len(present))


def _insert_sorted(job: Job, rows: list[KeyRow]) -> None:
    """Write index rows in (block, record) order: the (model, block, record) index then takes them as runs of
    neighbouring entries, not one random leaf page each, at a third less server CPU and WAL (100,000 people)."""
    keys = numpy.array(rows, dtype=numpy.int64).reshape(-1, 4)
    keys = keys[numpy.lexsort((keys[:, 2], keys[:, 1]))]
    fixed = numpy.broadcast_to(numpy.array([job.entity_type_id, job.model_id], dtype=numpy.int64), (len(keys), 2))
    rows = numpy.hstack([fixed, keys])
    try:
        with transaction.atomic():  # a savepoint: only this insert is undone if it meets a row
            insert_integer_rows(RecordBlockKey, INDEX_COLUMNS, rows)
    except IntegrityError:
        # A record streamed meanwhile wrote one of these keys after the run read the slice's rows: keep the
        # row there, add the others.
        RecordBlockKey.objects.bulk_create(
            [RecordBlockKey(**dict(zip(INDEX_COLUMNS, map(int, row)))) for row in rows], batch_size=2000,
            ignore_conflicts=True)


INDEX_COLUMNS = ["entity_type_id", "model_id", "predicate", "block", "record", "source"]


def probe_blocks(matcher: engine.Matcher, values: dict, *, record_id: int = 0) -> list[tuple[int, int]]:
    """(predicate, block hash) of one record's values under the model's rules, sorted by hash."""
    from mastering.services.master.blocking import block_hash  # the run's hash; blocking imports this module

    found = {(key.predicate, block_hash(key.predicate, key.key)) for key in matcher.blocking_keys({record_id: values})}
    return sorted(found, key=lambda pb: (pb[1], pb[0]))


def replace_record_keys(*, entity_type: EntityType, model: MatchModel, record_id: int, source_id: int,
                        blocks: Iterable[tuple[int, int]], fresh: bool = False) -> None:
    """Replace one record's rows in the index (a streamed record, new or changed); `fresh`: it has none yet."""
    blocks = list(blocks)
    if connection.vendor == "postgresql":
        # One statement: a data-modifying WITH runs to completion whether or not the insert reads it. It runs after
        # the insert, on the rows as they were: it takes out only the rows the new keys do not have, and the insert
        # leaves the record's rows it finds in place (the primary key), so neither depends on the other's order.
        with connection.cursor() as cursor:
            cursor.execute(
                ("" if fresh else "WITH gone AS (DELETE FROM mastering_recordblockkey WHERE entity_type_id = %s AND record = %s "
                                  "AND NOT (model_id = %s AND block = ANY(%s::bigint[]))) ")
                + "INSERT INTO mastering_recordblockkey (entity_type_id, model_id, predicate, block, record, source) "
                  "SELECT %s, %s, p, b, %s, %s FROM unnest(%s::smallint[], %s::bigint[]) AS k(p, b) "
                  "ON CONFLICT DO NOTHING",
                ([] if fresh else [entity_type.pk, record_id, model.pk, [b for _, b in blocks]])
                + [entity_type.pk, model.pk, record_id, source_id, [p for p, _ in blocks], [b for _, b in blocks]])
        return
    if not fresh:
        drop_record(entity_type=entity_type, record_id=record_id)
    RecordBlockKey.objects.bulk_create([
        RecordBlockKey(entity_type=entity_type, model=model, predicate=p, block=block, record=record_id, source=source_id)
        for p, block in blocks
    ], ignore_conflicts=True)


def drop_record(*, entity_type: EntityType, record_id: int) -> None:
    """Take a record (retired, or about to be re-keyed) out of the index."""
    RecordBlockKey.objects.filter(entity_type=entity_type, record=record_id).delete()


_BUILT: dict[tuple[int, str], float] = {}


def is_built(*, model: MatchModel, besides: int | None = None) -> bool:
    """Whether any record (besides the one being streamed) is indexed under this model version (one index probe).

    A yes is kept CAP_MAX_AGE seconds per process: a model's index, once a run built it, stays until a newer model
    replaces it (and the newer model is then the active one, asked afresh).
    """
    key = (model.pk, model.created_at.isoformat())
    seen = _BUILT.get(key)
    if seen is not None and time.monotonic() - seen < CAP_MAX_AGE:
        return True
    built = RecordBlockKey.objects.filter(model=model).exclude(record=besides).exists()
    if built:
        _BUILT[key] = time.monotonic()
    return built


_CAPS: dict[tuple[int, str], tuple[float, int]] = {}
CAP_MAX_AGE = 60.0  # seconds a process keeps a model's cap; a new run changes it rarely and only a little


def block_cap(*, model: MatchModel) -> int:
    """The largest block streaming compares: the cap of the last finished run with this model, at most STREAM_MAX_BLOCK."""
    key = (model.pk, model.created_at.isoformat())  # pks are reused (tests); a version's creation time is not
    cached = _CAPS.get(key)
    if cached is not None and time.monotonic() - cached[0] < CAP_MAX_AGE:
        return cached[1]
    cap = _block_cap(model)
    _CAPS[key] = (time.monotonic(), cap)
    return cap


def _block_cap(model: MatchModel) -> int:
    counts = (Job.objects.filter(entity_type_id=model.entity_type_id, kind=Job.Kind.MASTER, status=Job.Status.DONE,
                                 model=model).order_by("-pk").values_list("counts", flat=True).first()) or {}
    caps = [row.get("block_size_cap") for row in counts.get("per_predicate", ()) if isinstance(row, dict)]
    cap = max([c for c in caps if isinstance(c, int)], default=engine.DEFAULT_MAX_BLOCK_SIZE)
    return min(cap, STREAM_MAX_BLOCK)


def candidate_records(*, model: MatchModel, blocks: list[int], cap: int, exclude: int | None = None) -> Candidates:
    """Records that share a block of at most `cap` records with the probe: an indexed read of cap + 1 rows per block.

    `exclude` is a stored record being matched: it is left out, and counts as a member of each of its blocks
    whether or not its own keys are in the index yet (a batch run's block holds the record too).
    """
    blocks = sorted(set(blocks))
    # A block is skipped once it holds `limit` records besides the probe (with the probe, more than cap).
    limit = cap if exclude is not None else cap + 1
    rows: dict[int, list[tuple[int, int]]] = {}
    if blocks and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT b.block, k.record, k.source FROM unnest(%s::bigint[]) AS b(block)
                CROSS JOIN LATERAL (SELECT record, source FROM mastering_recordblockkey
                                    WHERE model_id = %s AND block = b.block AND record <> %s LIMIT %s) k
                """,
                [blocks, model.pk, -1 if exclude is None else exclude, limit],
            )
            for block, record, source in cursor.fetchall():
                rows.setdefault(block, []).append((record, source))
    else:
        for block in blocks:  # SQLite has no LATERAL: one indexed query per block
            found = list(RecordBlockKey.objects.filter(model=model, block=block).exclude(record=exclude)
                         .values_list("record", "source")[:limit])
            if found:
                rows[block] = found
    records: dict[int, int] = {}
    skipped = 0
    for members in rows.values():
        if len(members) >= limit:
            skipped += 1
            continue
        records.update(members)
    return Candidates(records=records, blocks=len(blocks), skipped_blocks=skipped, cap=cap)

"""Write validated rows into SourceRecord, keeping every superseded version.

Both writers do the same thing: new keys become version 1; a changed hash (or a retired
record coming back) archives the current version into SourceRecordVersion and bumps the
version; an unchanged row only records that this batch saw it. Snapshot mode retires live
records the batch did not mention. The caller holds the source's lock and a transaction.
"""

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.utils import timezone

from mastering.ingest.staging import STAGE_TABLE, PostgresStage, Stage
from mastering.ingest.validation import ValidatedChunk, record_json
from mastering.models import IngestBatch, SourceRecord, SourceRecordVersion

SQLITE_VARIABLES = 900


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    timings: dict[str, float] = field(default_factory=dict)


def merge(*, batch: IngestBatch, stage: Stage, types: dict[str, str], snapshot: bool,
          present_keys: set[str]) -> MergeCounts:
    """Upsert the staged rows into the batch's source with the fastest writer the database allows.

    present_keys are keys the table mentioned besides the staged ones (rejected rows, keys written
    differently from their canonical form); snapshot mode does not retire those records.
    """
    if isinstance(stage, PostgresStage):
        return PostgresMerger(batch, types).run(stage, snapshot=snapshot, present_keys=present_keys)
    return OrmMerger(batch, types).run(stage.chunks(), snapshot=snapshot, present_keys=present_keys)


def _slices(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OrmMerger:
    """Portable writer (SQLite, the embedded default): compares hashes in Python, writes in bulk."""

    def __init__(self, batch: IngestBatch, types: dict[str, str]):
        self.batch = batch
        self.types = types
        self.now = timezone.now()
        self.counts = MergeCounts()
        self.staged_keys: set[str] = set()

    def run(self, chunks: Iterable[ValidatedChunk], *, snapshot: bool, present_keys: set[str]) -> MergeCounts:
        for chunk in chunks:
            self._merge_chunk(chunk, remember_keys=snapshot)
        if snapshot:
            self._retire_absent(present_keys | self.staged_keys)
        return self.counts

    def _existing(self, keys: list[str]) -> dict[str, SourceRecord]:
        found: dict[str, SourceRecord] = {}
        for part in _slices(keys, SQLITE_VARIABLES):
            for record in SourceRecord.objects.filter(source_id=self.batch.source_id, key__in=part):
                found[record.key] = record
        return found

    def _merge_chunk(self, chunk: ValidatedChunk, *, remember_keys: bool) -> None:
        keys = chunk.keys.to_pylist()
        if remember_keys:
            self.staged_keys.update(keys)
        existing = self._existing(keys)
        new, changed, archived, seen_ids = [], [], [], []
        for key, values, content_hash in zip(keys, chunk.records(), chunk.hashes.to_pylist()):
            record = existing.get(key)
            if record is None:
                new.append(
                    SourceRecord(
                        source_id=self.batch.source_id, key=key, data=record_json(values, self.types),
                        content_hash=content_hash, version=1, first_batch=self.batch, last_seen_batch=self.batch,
                        changed_batch=self.batch, created_at=self.now, updated_at=self.now,
                    )
                )
            elif record.content_hash != content_hash or record.retired:
                archived.append(_archive(record))
                record.data = record_json(values, self.types)
                record.content_hash = content_hash
                record.version += 1
                record.retired = False
                record.last_seen_batch = record.changed_batch = self.batch
                record.updated_at = self.now
                changed.append(record)
            else:
                seen_ids.append(record.pk)
        SourceRecord.objects.bulk_create(new, batch_size=500)
        SourceRecordVersion.objects.bulk_create(archived, batch_size=500)
        SourceRecord.objects.bulk_update(
            changed,
            ["data", "content_hash", "version", "retired", "last_seen_batch", "changed_batch", "updated_at"],
            batch_size=500,
        )
        for part in _slices(seen_ids, SQLITE_VARIABLES):
            SourceRecord.objects.filter(pk__in=part).update(last_seen_batch=self.batch)
        self.counts.created += len(new)
        self.counts.updated += len(changed)
        self.counts.unchanged += len(seen_ids)

    def _retire_absent(self, present_keys: set[str]) -> None:
        live = SourceRecord.objects.filter(source_id=self.batch.source_id, retired=False)
        absent = [record for record in live.iterator(chunk_size=2000) if record.key not in present_keys]
        SourceRecordVersion.objects.bulk_create([_archive(record) for record in absent], batch_size=500)
        for record in absent:
            record.retired = True
            record.version += 1
            record.changed_batch = self.batch
            record.updated_at = self.now
        SourceRecord.objects.bulk_update(absent, ["retired", "version", "changed_batch", "updated_at"], batch_size=500)
        self.counts.retired = len(absent)


def _archive(record: SourceRecord) -> SourceRecordVersion:
    return SourceRecordVersion(
        record_id=record.pk, version=record.version, data=record.data, content_hash=record.content_hash,
        retired=record.retired, batch_id=record.changed_batch_id, created_at=record.updated_at,
    )


ARCHIVE = """
    INSERT INTO mastering_sourcerecordversion (record_id, version, data, content_hash, retired, batch_id, created_at)
    SELECT r.id, r.version, r.data, r.content_hash, r.retired, r.changed_batch_id, r.updated_at
    FROM mastering_sourcerecord r JOIN {rows} ON {rows_id} = r.id
"""


class PostgresMerger:
    """Set-based writer over the staged table: classify every staged key once, then one statement per outcome.

    Each statement touches only the rows it changes. In particular new rows are a plain INSERT
    (the source lock rules out a concurrent insert of the same key, so no ON CONFLICT and its
    per-row speculative insertion), and unchanged rows get nothing but last_seen_batch.
    """

    def __init__(self, batch: IngestBatch, types: dict[str, str]):
        self.batch = batch
        self.types = types
        self.columns: list[str] = []
        self.params = {"source": batch.source_id, "batch": batch.pk}
        self.timings: dict[str, float] = {}
        self.stage_analyzed = False

    def run(self, stage: PostgresStage, *, snapshot: bool, present_keys: set[str]) -> MergeCounts:
        self.columns = stage.fields  # the stage's v0..vN, in this order
        with connection.cursor() as cursor:
            # Check foreign keys at each statement rather than all at commit: the (large) cost
            # shows in the timings, and the server does not queue several deferred checks per row.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # Hash joins over a million staged keys fit in memory instead of spilling; this transaction only.
            cursor.execute("SET LOCAL work_mem = '64MB'")
            counts = self._upsert(cursor, stage.rows)
            if snapshot:
                counts.retired = self._retire_absent(cursor, present_keys)
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        counts.timings = self.timings
        return counts

    def _timed(self, cursor, name: str, sql: str) -> int:
        started = time.perf_counter()
        cursor.execute(sql, self.params)
        self.timings[name] = round(self.timings.get(name, 0) + time.perf_counter() - started, 3)
        return cursor.rowcount

    def _upsert(self, cursor, staged: int) -> MergeCounts:
        cursor.execute("DROP TABLE IF EXISTS ingest_match")
        # A source's first batch has nothing to match: skip the statistics and the join.
        cursor.execute("SELECT EXISTS (SELECT 1 FROM mastering_sourcerecord WHERE source_id = %(source)s)", self.params)
        matched = self._match(cursor) if cursor.fetchone()[0] else 0
        updated = self._update_changed(cursor) if matched else 0
        if updated < matched:
            self._mark_seen(cursor)
        created = self._insert_new(cursor, some_matched=matched > 0) if matched < staged else 0
        cursor.execute("DROP TABLE IF EXISTS ingest_match")
        return MergeCounts(created=created, updated=updated, unchanged=staged - created - updated)

    def _analyze_stage(self, cursor) -> None:
        if not self.stage_analyzed:  # temporary tables get no automatic statistics, and joins need them
            self._timed(cursor, "analyze_s", f"ANALYZE {STAGE_TABLE}")
            self.stage_analyzed = True

    def _match(self, cursor) -> int:
        """Classify every staged key that the source already has: changed, or only seen again."""
        self._analyze_stage(cursor)
        matched = self._timed(cursor, "match_s", f"""
            CREATE TEMPORARY TABLE ingest_match AS
            SELECT s.key, r.id, (r.content_hash <> s.hash OR r.retired) AS changed
            FROM {STAGE_TABLE} s JOIN mastering_sourcerecord r ON r.source_id = %(source)s AND r.key = s.key
        """)
        if matched:
            cursor.execute("ANALYZE ingest_match")
        return matched

    def _update_changed(self, cursor) -> int:
        return self._timed(cursor, "update_changed_s", f"""
            WITH archived AS ({ARCHIVE.format(rows="ingest_match m", rows_id="m.id")} WHERE m.changed)
            UPDATE mastering_sourcerecord r
            SET data = {self._data_expression()}, content_hash = s.hash, version = r.version + 1, retired = false,
                last_seen_batch_id = %(batch)s, changed_batch_id = %(batch)s, updated_at = now()
            FROM ingest_match m JOIN {STAGE_TABLE} s ON s.key = m.key
            WHERE r.id = m.id AND m.changed
        """)

    def _mark_seen(self, cursor) -> None:
        # The only write an unchanged row gets. last_seen_batch is not indexed so that this can be a
        # HOT update, but HOT also needs free room on the row's page: right after a bulk load the
        # pages are full (fillfactor 100), so the first re-send still writes a new copy of each row.
        self._timed(cursor, "mark_seen_s", """
            UPDATE mastering_sourcerecord r SET last_seen_batch_id = %(batch)s
            FROM ingest_match m WHERE r.id = m.id AND NOT m.changed AND r.last_seen_batch_id <> %(batch)s
        """)

    def _insert_new(self, cursor, *, some_matched: bool) -> int:
        # Anti-join against the match table, never against mastering_sourcerecord itself: that table
        # grows during the INSERT, and a nested-loop plan over it would turn quadratic.
        unmatched = "WHERE NOT EXISTS (SELECT 1 FROM ingest_match m WHERE m.key = s.key)" if some_matched else ""
        return self._timed(cursor, "insert_s", f"""
            INSERT INTO mastering_sourcerecord
                (source_id, key, data, content_hash, version, retired, first_batch_id, last_seen_batch_id,
                 changed_batch_id, created_at, updated_at)
            SELECT %(source)s, s.key, {self._data_expression()}, s.hash, 1, false, %(batch)s, %(batch)s, %(batch)s,
                   now(), now()
            FROM {STAGE_TABLE} s {unmatched}
        """)

    def _data_expression(self) -> str:
        pairs = []
        for index, name in enumerate(self.columns):
            literal = "'" + name.replace("'", "''").replace("%", "%%") + "'"
            column = f"s.v{index}"
            kind = self.types[name]
            if kind == "integer":
                column = f"{column}::numeric"
            elif kind == "boolean":
                column = f"{column}::boolean"
            pairs.append(f"{literal}, {column}")
        if not pairs:
            return "'{}'::jsonb"
        # jsonb_build_object takes at most 100 arguments, so wide tables are built in parts.
        parts = [f"jsonb_build_object({', '.join(pairs[i : i + 40])})" for i in range(0, len(pairs), 40)]
        return " || ".join(parts)

    def _retire_absent(self, cursor, present_keys: set[str]) -> int:
        # Keys of rejected rows (partial mode) count as present: the record exists, its new row was bad.
        self._analyze_stage(cursor)
        cursor.execute("DROP TABLE IF EXISTS ingest_present")
        cursor.execute("CREATE TEMPORARY TABLE ingest_present (key text NOT NULL)")
        with cursor.copy("COPY ingest_present (key) FROM STDIN") as copy:
            for key in present_keys:
                copy.write_row((key,))
        cursor.execute("ANALYZE ingest_present")
        retired = self._timed(cursor, "retire_s", f"""
            WITH gone AS (
                SELECT r.id FROM mastering_sourcerecord r
                WHERE r.source_id = %(source)s AND NOT r.retired
                  AND NOT EXISTS (SELECT 1 FROM {STAGE_TABLE} s WHERE s.key = r.key)
                  AND NOT EXISTS (SELECT 1 FROM ingest_present p WHERE p.key = r.key)
            ), archived AS ({ARCHIVE.format(rows="gone g", rows_id="g.id")})
            UPDATE mastering_sourcerecord r
            SET retired = true, version = r.version + 1, changed_batch_id = %(batch)s, updated_at = now()
            FROM gone g WHERE r.id = g.id
        """)
        cursor.execute("DROP TABLE ingest_present")
        return retired

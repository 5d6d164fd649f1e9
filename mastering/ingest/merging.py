"""Write validated rows into SourceRecord, keeping every superseded version.

Both writers do the same thing: new keys become version 1; a changed hash (or a retired
record coming back) archives the current version into SourceRecordVersion and bumps the
version; an unchanged row only records that this batch saw it. Snapshot mode retires live
records the batch did not mention. The caller holds the source's lock and a transaction.
"""

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone

from mastering.ingest.validation import ValidatedChunk, record_json
from mastering.models import IngestBatch, SourceRecord, SourceRecordVersion

SQLITE_VARIABLES = 900


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0


def merge(*, batch: IngestBatch, chunks: Iterable[ValidatedChunk], types: dict[str, str], snapshot: bool, present_keys: set[str]) -> MergeCounts:
    """Upsert the chunks into the batch's source with the fastest writer the database allows."""
    if connection.vendor == "postgresql":
        return PostgresMerger(batch, types).run(chunks, snapshot=snapshot, present_keys=present_keys)
    return OrmMerger(batch, types).run(chunks, snapshot=snapshot, present_keys=present_keys)


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

    def run(self, chunks: Iterable[ValidatedChunk], *, snapshot: bool, present_keys: set[str]) -> MergeCounts:
        for chunk in chunks:
            self._merge_chunk(chunk)
        if snapshot:
            self._retire_absent(present_keys)
        return self.counts

    def _existing(self, keys: list[str]) -> dict[str, SourceRecord]:
        found: dict[str, SourceRecord] = {}
        for part in _slices(keys, SQLITE_VARIABLES):
            for record in SourceRecord.objects.filter(source_id=self.batch.source_id, key__in=part):
                found[record.key] = record
        return found

    def _merge_chunk(self, chunk: ValidatedChunk) -> None:
        keys = chunk.keys.tolist()
        existing = self._existing(keys)
        records = chunk.values.to_dict("records")
        new, changed, archived, seen_ids = [], [], [], []
        for key, values, content_hash in zip(keys, records, chunk.hashes.tolist()):
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


class PostgresMerger:
    """Set-based writer: COPY into a temporary table, then a few statements do the whole upsert."""

    def __init__(self, batch: IngestBatch, types: dict[str, str]):
        self.batch = batch
        self.types = types
        self.columns = list(types)

    def run(self, chunks: Iterable[ValidatedChunk], *, snapshot: bool, present_keys: set[str]) -> MergeCounts:
        with connection.cursor() as cursor:
            self._create_stage(cursor)
            self._copy(cursor, chunks)
            cursor.execute("ANALYZE ingest_stage")
            counts = self._upsert(cursor)
            if snapshot:
                counts.retired = self._retire_absent(cursor, present_keys)
            cursor.execute("DROP TABLE IF EXISTS ingest_stage")
        return counts

    def _create_stage(self, cursor) -> None:
        cursor.execute("DROP TABLE IF EXISTS ingest_stage")
        value_columns = ", ".join(f"v{i} text" for i in range(len(self.columns)))
        cursor.execute(
            f"CREATE TEMPORARY TABLE ingest_stage (key text PRIMARY KEY, hash text NOT NULL{', ' if value_columns else ''}{value_columns}) ON COMMIT DROP"
        )

    def _copy(self, cursor, chunks: Iterable[ValidatedChunk]) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        names = ["key", "hash"] + [f"v{i}" for i in range(len(self.columns))]
        with cursor.copy(f"COPY ingest_stage ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)") as copy:
            for chunk in chunks:
                arrays = [pa.array(chunk.keys.tolist(), pa.string()), pa.array(chunk.hashes.tolist(), pa.string())]
                arrays += [pa.array(chunk.values[name].tolist(), pa.string()) for name in self.columns]
                buffer = io.BytesIO()
                # Unquoted empty cells are NULL in COPY's csv format; pyarrow writes None that way.
                pacsv.write_csv(
                    pa.Table.from_arrays(arrays, names=names), buffer,
                    write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
                )
                copy.write(buffer.getvalue())

    def _data_expression(self) -> str:
        pairs = []
        for index, name in enumerate(self.columns):
            literal = "'" + name.replace("'", "''") + "'"
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

    def _upsert(self, cursor) -> MergeCounts:
        params = {"source": self.batch.source_id, "batch": self.batch.pk}
        cursor.execute(
            f"""
            WITH changed AS (
                SELECT r.id, s.key, s.hash, {self._data_expression()} AS data
                FROM ingest_stage s JOIN mastering_sourcerecord r ON r.source_id = %(source)s AND r.key = s.key
                WHERE r.content_hash <> s.hash OR r.retired
            ), archived AS (
                INSERT INTO mastering_sourcerecordversion (record_id, version, data, content_hash, retired, batch_id, created_at)
                SELECT r.id, r.version, r.data, r.content_hash, r.retired, r.changed_batch_id, r.updated_at
                FROM mastering_sourcerecord r JOIN changed c ON c.id = r.id
            )
            UPDATE mastering_sourcerecord r
            SET data = c.data, content_hash = c.hash, version = r.version + 1, retired = false,
                last_seen_batch_id = %(batch)s, changed_batch_id = %(batch)s, updated_at = now()
            FROM changed c WHERE r.id = c.id
            """,
            params,
        )
        updated = cursor.rowcount
        cursor.execute(
            f"""
            INSERT INTO mastering_sourcerecord AS r
                (source_id, key, data, content_hash, version, retired, first_batch_id, last_seen_batch_id,
                 changed_batch_id, created_at, updated_at)
            SELECT %(source)s, s.key, {self._data_expression()}, s.hash, 1, false, %(batch)s, %(batch)s, %(batch)s, now(), now()
            FROM ingest_stage s
            ON CONFLICT (source_id, key) DO UPDATE SET last_seen_batch_id = EXCLUDED.last_seen_batch_id
            WHERE r.last_seen_batch_id <> EXCLUDED.last_seen_batch_id
            RETURNING (xmax = 0) AS inserted
            """,
            params,
        )
        flags = cursor.fetchall()
        created = sum(1 for (inserted,) in flags if inserted)
        cursor.execute("SELECT count(*) FROM ingest_stage")
        (total,) = cursor.fetchone()
        return MergeCounts(created=created, updated=updated, unchanged=total - created - updated)

    def _retire_absent(self, cursor, present_keys: set[str]) -> int:
        # Keys of rejected rows (partial mode) count as present: the record exists, its new row was bad.
        cursor.execute("CREATE TEMPORARY TABLE ingest_present (key text PRIMARY KEY) ON COMMIT DROP")
        with cursor.copy("COPY ingest_present (key) FROM STDIN") as copy:
            for key in present_keys:
                copy.write_row((key,))
        params = {"source": self.batch.source_id, "batch": self.batch.pk}
        cursor.execute(
            """
            WITH gone AS (
                SELECT r.id FROM mastering_sourcerecord r
                WHERE r.source_id = %(source)s AND NOT r.retired
                  AND NOT EXISTS (SELECT 1 FROM ingest_present p WHERE p.key = r.key)
            ), archived AS (
                INSERT INTO mastering_sourcerecordversion (record_id, version, data, content_hash, retired, batch_id, created_at)
                SELECT r.id, r.version, r.data, r.content_hash, r.retired, r.changed_batch_id, r.updated_at
                FROM mastering_sourcerecord r JOIN gone g ON g.id = r.id
            )
            UPDATE mastering_sourcerecord r
            SET retired = true, version = r.version + 1, changed_batch_id = %(batch)s, updated_at = now()
            FROM gone g WHERE r.id = g.id
            """,
            params,
        )
        retired = cursor.rowcount
        cursor.execute("DROP TABLE IF EXISTS ingest_present")
        return retired

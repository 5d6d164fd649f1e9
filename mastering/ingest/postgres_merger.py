"""The PostgreSQL writer: COPY for new rows, one statement from a temporary table for changed ones."""

import io
import json
import time
from contextlib import ExitStack

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import connection
from django.utils import timezone

from mastering.ingest.copying import copy_text
from mastering.ingest.documents import json_texts
from mastering.ingest.merge_parts import MergeCounts, Sightings, keep_absent_values
from mastering.ingest.validation import ValidatedChunk
from mastering.models import IngestBatch

ARCHIVE = """
    INSERT INTO mastering_sourcerecordversion (record_id, version, data, content_hash, retired, batch_id, file_row, created_at)
    SELECT r.id, r.version, r.data, r.content_hash, r.retired, r.changed_batch_id, r.file_row, r.updated_at
    FROM mastering_sourcerecord r JOIN {rows} ON {rows_id} = r.id
"""
# created_at and updated_at are left to their database default, the COPY statement's time.
NEW_RECORD_COLUMNS = ["source_id", "key", "data", "content_hash", "version", "retired", "first_batch_id",
                      "changed_batch_id", "file_row"]
COPY_NEW_RECORDS = f"COPY mastering_sourcerecord ({', '.join(NEW_RECORD_COLUMNS)}) FROM STDIN"


class PostgresMerger:
    """Writes each chunk as it comes, so the database works while the next chunk is being checked.

    A source's first load is a plain COPY of finished rows into the records table. Later batches
    look their keys up by the unique (source, key) index, COPY only the new rows, and rewrite
    only the changed ones, from a temporary table; unchanged rows are never sent back.
    """

    def __init__(self, batch: IngestBatch, types: dict[str, str]):
        self.batch = batch
        self.types = types
        self.counts = MergeCounts()
        self.sightings = Sightings()
        self.now = timezone.now().isoformat()
        self.params = {"source": batch.source_id, "batch": batch.pk}
        self.known: KnownRecords | None = None  # read when the first chunk needs it
        self.open_statements = ExitStack()
        self.open_copy = None
        with connection.cursor() as cursor:
            cursor.execute("SELECT EXISTS (SELECT 1 FROM mastering_sourcerecord WHERE source_id = %(source)s)",
                           self.params)
            self.source_was_empty = not cursor.fetchone()[0]
            # Checked at each statement, so a broken reference fails where it happens, and the
            # server does not queue a deferred check per written row.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS ingest_changed "
                           "(id bigint NOT NULL, hash text NOT NULL, data jsonb NOT NULL, file_row integer) ON COMMIT DROP")

    def _timed(self, name: str, started: float) -> None:
        timings = self.counts.timings
        timings[name] = round(timings.get(name, 0) + time.perf_counter() - started, 3)

    def prepare(self, chunk: ValidatedChunk) -> None:
        """Build the chunk's JSON documents; safe in another thread (no database), so the reading thread does it."""
        started = time.perf_counter()
        chunk.documents = json_texts(chunk.values, self.types)
        self._timed("documents_s", started)

    def add(self, chunk: ValidatedChunk) -> None:
        if not len(chunk):
            return
        if self.source_was_empty:  # nothing to match: every key is new (the validator refused repeats)
            if chunk.documents is None:
                self.prepare(chunk)
            self._insert(chunk.keys, chunk.hashes, chunk.documents, chunk.rows)
            return
        ids, hashes, retired = self._existing(chunk.keys)
        new = ids < 0
        if chunk.absent:
            chunk = self._keep_absent_values(chunk, ids)
        if chunk.documents is None:
            self.prepare(chunk)
        documents = chunk.documents
        unchanged = ~new & ~retired & (hashes == np.asarray(chunk.hashes.to_numpy(zero_copy_only=False), dtype=object))
        changed = ~new & ~unchanged
        if new.any():
            rows = pa.array(new)
            self._insert(chunk.keys.filter(rows), chunk.hashes.filter(rows), documents.filter(rows), chunk.rows[new])
        if changed.any():
            rows = pa.array(changed)
            self._update(ids[changed], chunk.hashes.filter(rows), documents.filter(rows), chunk.rows[changed])
        self.sightings.add(ids[unchanged])
        self.counts.unchanged += int(unchanged.sum())

    def _keep_absent_values(self, chunk: ValidatedChunk, ids: np.ndarray) -> ValidatedChunk:
        """Fill the cells the table left out from the current data of the records that exist (only those are read)."""
        started = time.perf_counter()
        leaves_out = np.logical_or.reduce(list(chunk.absent.values()))
        existing = np.flatnonzero((ids >= 0) & leaves_out)
        if not len(existing):
            return chunk
        with connection.cursor() as cursor:
            # As text: the JSON is parsed here whatever the connection's jsonb loader does.
            cursor.execute("SELECT id, data::text FROM mastering_sourcerecord WHERE id = ANY(%s)",
                           [ids[existing].tolist()])
            data = {record_id: json.loads(text) for record_id, text in cursor.fetchall()}
        filled = keep_absent_values(chunk, existing, [data[int(i)] for i in ids[existing]], self.types)
        self._timed("keep_absent_s", started)
        return filled

    def _existing(self, keys: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(id, hash, retired) of each key's record, aligned with keys; id -1 where there is none."""
        started = time.perf_counter()
        if self.known is None and len(keys) <= FEW_KEYS:
            # A streamed record (or a small table) looks its keys up by index: reading the whole source per request
            # would make a PUT as slow as the source is large.
            found = KnownRecords(self.batch.source_id, None).find(keys)
            self._timed("lookup_s", started)
            return found
        if self.known is None:
            self.known = KnownRecords.read(self.batch.source_id)
        found = self.known.find(keys)
        self._timed("lookup_s", started)
        return found

    def _insert(self, keys: pa.Array, hashes: pa.Array, documents: pa.Array, rows: np.ndarray) -> None:
        started = time.perf_counter()
        count = len(keys)
        batch = pa.array(np.full(count, self.batch.pk, dtype=np.int64))
        table = pa.Table.from_arrays(
            [pa.array(np.full(count, self.batch.source_id, dtype=np.int64)), keys, documents, hashes,
             pa.array(np.ones(count, dtype=np.int32)), pa.array(np.zeros(count, dtype=bool)), batch, batch,
             pa.array(np.asarray(rows, dtype=np.int64))],
            names=NEW_RECORD_COLUMNS,
        )
        if self.source_was_empty:
            # A first load is one COPY fed chunk by chunk: the server never waits between statements.
            self._first_load_copy().write(copy_text(table))
        else:
            with connection.cursor() as cursor, cursor.copy(COPY_NEW_RECORDS) as copy:
                copy.write(copy_text(table))
        self.counts.created += count
        self._timed("insert_s", started)

    def _first_load_copy(self):
        if self.open_copy is None:
            cursor = self.open_statements.enter_context(connection.cursor())
            self.open_copy = self.open_statements.enter_context(cursor.copy(COPY_NEW_RECORDS))
        return self.open_copy

    def __enter__(self) -> "PostgresMerger":
        return self

    def __exit__(self, *exc) -> None:
        # On an error the COPY is abandoned (and the transaction rolls back); otherwise finish closed it.
        self.open_statements.__exit__(*exc)

    def _update(self, ids: np.ndarray, hashes: pa.Array, documents: pa.Array, rows: np.ndarray) -> None:
        started = time.perf_counter()
        table = pa.Table.from_arrays([pa.array(ids), hashes, documents, pa.array(np.asarray(rows, dtype=np.int64))],
                                     names=["id", "hash", "data", "file_row"])
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE ingest_changed")
            with cursor.copy("COPY ingest_changed (id, hash, data, file_row) FROM STDIN") as copy:
                copy.write(copy_text(table))
            cursor.execute("ANALYZE ingest_changed")  # temporary tables get no automatic statistics
            cursor.execute(f"""
                WITH archived AS ({ARCHIVE.format(rows="ingest_changed c", rows_id="c.id")})
                UPDATE mastering_sourcerecord r
                SET data = c.data, content_hash = c.hash, version = r.version + 1, retired = false,
                    changed_batch_id = %(batch)s, file_row = c.file_row, updated_at = %(now)s
                FROM ingest_changed c WHERE r.id = c.id
            """, {**self.params, "now": self.now})
            self.counts.updated += cursor.rowcount
        self._timed("update_s", started)

    def finish(self, *, snapshot: bool, present_keys: set[str]) -> MergeCounts:
        """present_keys: keys the table mentioned besides the merged ones (rejected rows); never retired."""
        started = time.perf_counter()
        self.open_statements.close()  # the server finishes the first load's COPY
        self.sightings.save(self.batch)
        if snapshot and not self.source_was_empty:
            self.counts.retired = self._retire_absent(present_keys)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        self._timed("finish_s", started)
        return self.counts

    def _retire_absent(self, present_keys: set[str]) -> int:
        """Retire live records this batch neither wrote nor saw, nor mentioned on a rejected row."""
        with connection.cursor() as cursor:
            # IF NOT EXISTS and TRUNCATE: several batches may share one transaction (a test's, a script's).
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS ingest_seen (id bigint NOT NULL) ON COMMIT DROP")
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS ingest_present (key text NOT NULL) ON COMMIT DROP")
            cursor.execute("TRUNCATE ingest_seen, ingest_present")
            seen = self.sightings.ids()
            if len(seen):
                with cursor.copy("COPY ingest_seen (id) FROM STDIN") as copy:
                    copy.write("\n".join(seen.astype(str)) + "\n")
            with cursor.copy("COPY ingest_present (key) FROM STDIN") as copy:
                for key in present_keys:
                    copy.write_row((key,))
            cursor.execute("ANALYZE ingest_seen")
            cursor.execute("ANALYZE ingest_present")
            cursor.execute(f"""
                WITH gone AS (
                    SELECT r.id FROM mastering_sourcerecord r
                    WHERE r.source_id = %(source)s AND NOT r.retired AND r.changed_batch_id <> %(batch)s
                      AND NOT EXISTS (SELECT 1 FROM ingest_seen s WHERE s.id = r.id)
                      AND NOT EXISTS (SELECT 1 FROM ingest_present p WHERE p.key = r.key)
                ), archived AS ({ARCHIVE.format(rows="gone g", rows_id="g.id")})
                UPDATE mastering_sourcerecord r
                SET retired = true, version = r.version + 1, changed_batch_id = %(batch)s, file_row = NULL, updated_at = %(now)s
                FROM gone g WHERE r.id = g.id
            """, {**self.params, "now": self.now})
            return cursor.rowcount


# Up to this many keys in a chunk are looked up through the (source, key) index instead of reading the source whole.
FEW_KEYS = 1000


class KnownRecords:
    """A source's records as they were when the batch began: key → (id, hash, retired).

    Read whole with one COPY: for a million records that takes about half a second, where
    looking keys up chunk by chunk through the index took ten. It costs about 150 bytes of
    memory per record, so a source beyond LOAD_LIMIT records is looked up chunk by chunk.
    """

    LOAD_LIMIT = 3_000_000

    def __init__(self, source_id: int, table: pa.Table | None):
        self.source_id = source_id
        self.table = table
        self.positions = pd.Index(table["key"].to_numpy(zero_copy_only=False)) if table is not None else None

    @classmethod
    def read(cls, source_id: int) -> "KnownRecords":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM (SELECT 1 FROM mastering_sourcerecord WHERE source_id = %s LIMIT %s) r",
                           [source_id, cls.LOAD_LIMIT + 1])
            if cursor.fetchone()[0] > cls.LOAD_LIMIT:
                return cls(source_id, None)
            buffer = io.BytesIO()
            with cursor.copy("COPY (SELECT key, id, content_hash, retired FROM mastering_sourcerecord "
                             f"WHERE source_id = {int(source_id)}) TO STDOUT WITH (FORMAT csv)") as copy:
                for block in copy:
                    buffer.write(block)
        buffer.seek(0)
        names = ["key", "id", "hash", "retired"]
        table = pacsv.read_csv(
            buffer,
            read_options=pacsv.ReadOptions(column_names=names),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={"key": pa.string(), "id": pa.int64(), "hash": pa.string(), "retired": pa.bool_()},
                true_values=["t"], false_values=["f"], strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
        return cls(source_id, table)

    def find(self, keys: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(id, hash, retired) per key, id -1 for a key the source does not have."""
        wanted = keys.to_numpy(zero_copy_only=False)
        ids = np.full(len(wanted), -1, dtype=np.int64)
        hashes = np.full(len(wanted), None, dtype=object)
        retired = np.zeros(len(wanted), dtype=bool)
        if self.table is not None:
            position = self.positions.get_indexer(wanted)
            hit = position >= 0
            rows = pa.array(position[hit])
            ids[hit] = self.table["id"].take(rows).to_numpy()
            hashes[hit] = self.table["hash"].take(rows).to_numpy(zero_copy_only=False)
            retired[hit] = self.table["retired"].take(rows).to_numpy(zero_copy_only=False)
            return ids, hashes, retired
        with connection.cursor() as cursor:
            cursor.execute("SELECT key, id, content_hash, retired FROM mastering_sourcerecord "
                           "WHERE source_id = %s AND key = ANY(%s::text[])", [self.source_id, wanted.tolist()])
            found = cursor.fetchall()
        if found:
            found_keys, found_ids, found_hashes, found_retired = zip(*found)
            position = pd.Index(found_keys).get_indexer(wanted)
            hit = position >= 0
            ids[hit] = np.asarray(found_ids, dtype=np.int64)[position[hit]]
            hashes[hit] = np.asarray(found_hashes, dtype=object)[position[hit]]
            retired[hit] = np.asarray(found_retired, dtype=bool)[position[hit]]
        return ids, hashes, retired

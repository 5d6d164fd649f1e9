"""Validated chunks wait outside the real tables until the whole table is checked.

On PostgreSQL they go straight into a temporary table with COPY while the file is still being
checked, so the merge starts from rows already in the database. Elsewhere they are pickled
to a temporary folder. Either way memory stays flat, and nothing real is written until the
merge, so a rejected table leaves no trace.
"""

import io
import pickle
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
from django.db import DatabaseError, connection

from mastering.ingest.validation import ValidatedChunk

STAGE_TABLE = "ingest_stage"
T = TypeVar("T")


class ChunkStage:
    """A temporary folder of pickled validated chunks, removed when closed."""

    def __init__(self, parent: Path | None = None):
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="steward-stage-", dir=parent))
        self.count = 0
        self.rows = 0

    def add(self, chunk: ValidatedChunk) -> None:
        if not len(chunk):
            return
        with open(self.folder / f"{self.count:06d}.pickle", "wb") as handle:
            pickle.dump(chunk, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1
        self.rows += len(chunk)

    def chunks(self) -> Iterator[ValidatedChunk]:
        for index in range(self.count):
            # Only files this process wrote a moment ago are unpickled.
            with open(self.folder / f"{index:06d}.pickle", "rb") as handle:
                yield pickle.load(handle)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "ChunkStage":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ChunkList:
    """Chunks kept in memory, for a handful of rows (one streamed record)."""

    def __init__(self):
        self.items: list[ValidatedChunk] = []
        self.rows = 0

    def add(self, chunk: ValidatedChunk) -> None:
        self.items.append(chunk)
        self.rows += len(chunk)

    def chunks(self) -> Iterator[ValidatedChunk]:
        yield from self.items

    def __enter__(self) -> "ChunkList":
        return self

    def __exit__(self, *exc) -> None:
        self.items = []


class PostgresStage:
    """A session temporary table (key, hash, v0..vN) filled by COPY, dropped when closed.

    It is not ON COMMIT DROP because it is filled before the merge transaction opens, so it needs
    a session of its own (no transaction-pooling proxy in between). One stage per connection at a
    time: the name is fixed so the merge SQL can be static.
    """

    def __init__(self, fields: list[str]):
        self.fields = fields
        self.rows = 0
        self.names = ["key", "hash"] + [f"v{index}" for index in range(len(fields))]
        columns = ", ".join(f"{name} text" for name in self.names[2:])
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")
            # No primary key: validation already refused repeated keys, and an index would only slow the COPY.
            cursor.execute(f"CREATE TEMPORARY TABLE {STAGE_TABLE} (key text NOT NULL, hash text NOT NULL"
                           f"{', ' if columns else ''}{columns})")

    def add(self, chunk: ValidatedChunk) -> None:
        if not len(chunk):
            return
        table = pa.Table.from_arrays(
            [chunk.keys, chunk.hashes] + [chunk.values[name] for name in self.fields], names=self.names
        )
        buffer = io.BytesIO()
        # In COPY's csv format an unquoted empty cell is NULL, which is how Arrow writes a null;
        # canonical values are never "", so no real value is confused with one.
        pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        with connection.cursor() as cursor, cursor.copy(
            f"COPY {STAGE_TABLE} ({', '.join(self.names)}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(buffer.getbuffer())
        self.rows += len(chunk)

    def close(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGE_TABLE}")

    def __enter__(self) -> "PostgresStage":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except DatabaseError:
            pass  # an aborted transaction cannot drop it; the session or the rollback will, and the first error matters


Stage = ChunkStage | ChunkList | PostgresStage


def open_stage(*, fields: list[str], spill_to: Path | None = None) -> Stage:
    """The stage the database's merger reads from; without spill_to, other databases keep chunks in memory."""
    if connection.vendor == "postgresql":
        return PostgresStage(fields)
    return ChunkStage(parent=spill_to) if spill_to is not None else ChunkList()


def produced_ahead(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """Iterate items that a background thread produces up to depth ahead of the consumer.

    Reading and checking a chunk is CPU work in Python; staging the previous chunk is mostly
    waiting for the database. Done in two threads they overlap, on a second core. The producer
    must not touch the database: Django connections belong to the thread that opened them.
    """
    done = object()
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put((done, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            handoff.put((done, exc))

    worker = threading.Thread(target=produce, name="ingest-producer", daemon=True)
    worker.start()
    try:
        while True:
            item, error = handoff.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()  # the consumer stopped early or failed: let the producer finish its current item and quit
        while worker.is_alive():
            try:
                handoff.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()

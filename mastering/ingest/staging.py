"""Checked chunks on their way to the merge.

On databases other than PostgreSQL the whole table is checked before anything is written
(SQLite allows one writer, and a write transaction held through a long check would block
everyone): chunks wait pickled in a temporary folder, so memory stays flat. produced_ahead
lets reading and checking run in a thread of their own on every database.
"""

import pickle
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from mastering.ingest.validation import ValidatedChunk

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


Stage = ChunkStage | ChunkList


def open_stage(*, spill_to: Path | None = None) -> Stage:
    """Where checked chunks wait for the merge: a folder under spill_to, or memory for a handful of rows."""
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

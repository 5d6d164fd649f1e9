"""Validated chunks wait on disk until the whole table is checked, so memory stays flat."""

import pickle
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mastering.ingest.validation import ValidatedChunk


class ChunkStage:
    """A temporary folder of pickled validated chunks, removed when closed."""

    def __init__(self, parent: Path | None = None):
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="steward-stage-", dir=parent))
        self.count = 0
        self.rows = 0

    def add(self, chunk: ValidatedChunk) -> None:
        if chunk.keys.empty:
            return
        with open(self.folder / f"{self.count:06d}.pickle", "wb") as handle:
            pickle.dump(chunk, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1
        self.rows += len(chunk.keys)

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

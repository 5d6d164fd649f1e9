"""Checking a table chunk by chunk: good rows go on to a sink, problems are tallied, the first ones kept."""

import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field

import pandas as pd

from mastering.ingest.parsing import Chunk, TableError, TableFile, read_chunks
from mastering.ingest.staging import produced_ahead
from mastering.ingest.validation import ValidatedChunk, Validator
from mastering.models import IngestBatch

STORED_PROBLEMS = 10_000
CHUNK_ROWS = 50_000


@dataclass
class TableCheck:
    """What checking every row of a table found, chunk by chunk."""

    received: int = 0
    problems: list[dict] = field(default_factory=list)  # the first STORED_PROBLEMS
    problem_count: int = 0
    bad_rows: set[int] = field(default_factory=set)
    present_keys: set[str] = field(default_factory=set)  # snapshot mode: keys mentioned but not staged
    timings: dict[str, float] = field(default_factory=dict)


class Stopwatch:
    """Adds up named timings, in seconds."""

    def __init__(self, timings: dict[str, float] | None = None):
        self.timings = timings if timings is not None else {}
        self.mark = time.perf_counter()

    def restart(self) -> None:
        self.mark = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0) + now - self.mark, 3)
        self.mark = now


class Rejected(Exception):
    """The table has bad rows and the batch is all-or-nothing: whatever was written is rolled back."""

    def __init__(self, check: TableCheck):
        self.check = check




def refuse_bad_table(batch: IngestBatch, check: "TableCheck") -> None:
    if check.received == 0:
        raise TableError("The file has a header but no rows.")
    if check.bad_rows and not batch.partial:
        raise Rejected(check)




def check_table(batch: IngestBatch, table: TableFile, validator: Validator, *,
                 sink: Callable[[ValidatedChunk], None], progress: Callable[[int], None],
                 prepare: Callable[[ValidatedChunk], None] | None = None) -> "TableCheck":
    """Validate every chunk, passing the good rows to sink and keeping the first problems.

    prepare, if given, runs on each checked chunk in the reading thread, ahead of sink.
    """
    check = TableCheck()
    watch = Stopwatch()
    snapshot = batch.mode == IngestBatch.Mode.SNAPSHOT
    # closing(): should the sink fail, the producer thread is stopped at once, not when the traceback is freed.
    with closing(produced_ahead(_validated_chunks(table, validator, check.timings, prepare))) as checked:
        for chunk, validated, cell_problems in checked:
            watch.restart()
            _tally(check, chunk, validated, cell_problems, key_field=validator.key_field, snapshot=snapshot)
            # After the first rejected row nothing more will be written, so only problems are gathered.
            if not check.bad_rows or batch.partial:
                sink(validated)
            progress(check.received)
            watch.lap("stage_s")
    check.timings.update(watch.timings)
    return check


def _tally(check: TableCheck, chunk: Chunk, validated: ValidatedChunk, cell_problems: list[dict], *,
           key_field: str, snapshot: bool) -> None:
    chunk_problems = chunk.problems + cell_problems
    check.received += len(chunk.frame) + len({p["row"] for p in chunk.problems})
    check.bad_rows.update(p["row"] for p in chunk_problems)
    check.problem_count += len(chunk_problems)
    room = STORED_PROBLEMS - len(check.problems)
    if room > 0:
        check.problems.extend(chunk_problems[:room])
    if snapshot:
        check.present_keys.update(_unstaged_keys(chunk.frame, key_field, validated))


def _validated_chunks(table: TableFile, validator: Validator, timings: dict[str, float],
                      prepare: Callable[[ValidatedChunk], None] | None) -> Iterator[tuple[Chunk, ValidatedChunk, list[dict]]]:
    """(chunk, validated rows, cell problems) for each chunk; runs in the producer thread, away from the database."""
    watch = Stopwatch(timings)
    for chunk in read_chunks(table, chunk_rows=CHUNK_ROWS):
        watch.lap("read_s")
        validated, cell_problems = validator.validate(chunk.frame, chunk.rows, chunk.absent)
        watch.lap("check_s")
        if prepare is not None and len(validated):
            prepare(validated)  # while the writer is still busy with the chunk before
        yield chunk, validated, cell_problems
        watch.restart()  # time spent waiting for the consumer is nobody's work


def _unstaged_keys(frame: pd.DataFrame, key_field: str, validated: ValidatedChunk) -> list[str]:
    """Keys as written in the table that the stage does not hold: those of bad rows, or non-canonical ones."""
    if key_field not in frame.columns:
        return []
    keys = frame[key_field].astype(str).str.strip()
    return keys[(keys != "") & ~keys.isin(validated.keys.to_pylist())].tolist()



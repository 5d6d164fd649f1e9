"""Tables and single records into a source: one service underneath page, API, command and stream."""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pandas as pd
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS, DatabaseError, OperationalError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activity
from mastering import tasks
from mastering.ingest.limits import TooLarge
from mastering.ingest.merging import MergeCounts, open_merger
from mastering.ingest.parsing import Chunk, TableError, TableFile, inspect_file, read_chunks, write_upload
from mastering.ingest.staging import open_stage, produced_ahead
from mastering.ingest.text import flaw, has_surrogate, shown
from mastering.ingest.validation import FieldSpec, ValidatedChunk, Validator
from mastering.models import IngestBatch, Source, SourceRecord
from mastering.services.liveness import keep_alive, stale_before
from steward.db import sqlite_lock_wait
from steward.errors import Busy, InvalidInput, ServiceError

logger = logging.getLogger(__name__)

STORED_PROBLEMS = 10_000
# A streamed record waits this long for a batch writing to its source, then is answered 503 "busy, retry".
STREAM_LOCK_WAIT_SECONDS = 5
CHUNK_ROWS = 50_000


class SourceInactive(ServiceError):
    pass


def upload_folder() -> Path:
    folder = Path(settings.DATA_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def field_specs(source: Source) -> list[FieldSpec]:
    """What ingest checks each of a source's fields against: type, required, longest value."""
    return [FieldSpec(f.name, f.type, f.required, f.longest_value) for f in source.fields.all()]


def source_validator(source: Source) -> Validator:
    """A validator with the source's fields and the values it treats as missing; every way in uses one."""
    return Validator(field_specs(source), source.key_field, missing_values=source.missing_values)


def _check_active(source: Source) -> None:
    if not source.active:
        raise SourceInactive(f"The source {source.name} is inactive and refuses new data.")


def receive_table(
    *,
    source: Source,
    stream: BinaryIO,
    file_name: str,
    user: AbstractBaseUser | None,
    channel: str,
    mode: str = IngestBatch.Mode.APPEND,
    partial: bool = False,
    background: bool | None = None,
) -> IngestBatch:
    """Store an incoming table (refusing it past the size limit) and ingest it."""
    _check_active(source)
    path = new_upload_path()
    try:
        write_upload(stream, path, max_bytes=settings.STEWARD_MAX_UPLOAD_BYTES)
    except TooLarge:
        path.unlink(missing_ok=True)
        raise
    return receive_stored_table(
        source=source, path=path, file_name=file_name, user=user, channel=channel, mode=mode, partial=partial,
        background=background,
    )


ABANDONED_AFTER_SECONDS = 24 * 3600


def new_upload_path() -> Path:
    """A fresh place for an incoming table; uploads abandoned for a day (never confirmed) are removed first."""
    folder = upload_folder()
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    for old in folder.glob("*.upload"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue  # another process removed it
    return folder / f"{uuid.uuid4().hex}.upload"


def receive_stored_table(
    *,
    source: Source,
    path: Path,
    file_name: str,
    user: AbstractBaseUser | None,
    channel: str,
    mode: str = IngestBatch.Mode.APPEND,
    partial: bool = False,
    background: bool | None = None,
) -> IngestBatch:
    """Ingest a table already on disk: inline when small, as a background job when large."""
    _check_active(source)
    if mode not in IngestBatch.Mode.values:
        raise InvalidInput(f"Unknown mode {mode!r}; use append or snapshot.")
    size = path.stat().st_size
    fail_dead_batches(source=source)
    batch = IngestBatch.objects.create(
        source=source, user=user, channel=channel, file_name=Path(file_name or "table").name[:255],
        size_bytes=size, mode=mode, partial=partial, upload_path=str(path),
    )
    if background is None:
        background = size > settings.STEWARD_INLINE_INGEST_BYTES
    if background:
        transaction.on_commit(lambda: tasks.run_ingest.delay(batch.pk))
        return batch
    return run_ingest(batch_id=batch.pk)


DEAD_BATCH_ERROR = ("The worker running this batch stopped (it may have been killed) and none of its rows were written. "
                    "Send the table again.")


def fail_dead_batches(*, source: Source | None = None) -> int:
    """Mark running batches whose worker stopped stamping its heartbeat (it was killed) as failed.

    Their writes were one transaction, which died with the worker's connection: nothing is half-written.
    Best effort, as pages call it: a database too busy to answer now is asked again next time.
    """
    cutoff = stale_before()
    dead = IngestBatch.objects.filter(status=IngestBatch.Status.RUNNING).filter(
        # Batches started before heartbeats existed get a day, so an upgrade does not fail those still running.
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=timezone.now() - timedelta(days=1)))
    if source is not None:
        dead = dead.filter(source=source)
    try:
        found = list(dead.values_list("pk", "upload_path"))  # a read: the usual empty answer never waits for a writer
    except DatabaseError:
        logger.warning("Could not look for dead batches now", exc_info=True)
        return 0
    failed = 0
    for pk, upload in found:
        try:
            with transaction.atomic():  # a savepoint, should the caller be in a transaction and this fail
                updated = dead.filter(pk=pk).update(
                    status=IngestBatch.Status.FAILED, finished_at=timezone.now(), upload_path="", error=DEAD_BATCH_ERROR)
        except DatabaseError:
            logger.warning("Could not mark batch %s failed now", pk, exc_info=True)
            continue
        if updated:
            failed += 1
            if upload:
                Path(upload).unlink(missing_ok=True)
    return failed


def _set_progress(batch_id: int, **fields) -> None:
    IngestBatch.objects.filter(pk=batch_id).update(**fields)


def run_ingest(*, batch_id: int) -> IngestBatch:
    """Check a stored table row by row, then write it all at once (or, with partial, its good rows)."""
    now = timezone.now()
    started = IngestBatch.objects.filter(pk=batch_id, status=IngestBatch.Status.QUEUED).update(
        status=IngestBatch.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    batch = IngestBatch.objects.select_related("source", "user").get(pk=batch_id)
    if started != 1:
        return batch  # another worker has it, or it is finished: a redelivered task does nothing
    path = Path(batch.upload_path)
    try:
        with keep_alive(IngestBatch.objects.filter(pk=batch_id, status=IngestBatch.Status.RUNNING)):
            _ingest(batch, path)
    except TableError as exc:
        _finish_rejected(batch, [{"row": 0, "column": "", "value": "", "reason": exc.message}], 1, warnings=[])
    except Exception as exc:
        logger.exception("Ingest of batch %s failed", batch_id)
        IngestBatch.objects.filter(pk=batch_id).update(
            status=IngestBatch.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        raise
    finally:
        path.unlink(missing_ok=True)
    batch.refresh_from_db()
    return batch


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


def _ingest(batch: IngestBatch, path: Path) -> None:
    started = time.perf_counter()
    watch = Stopwatch()
    table = inspect_file(path, batch.file_name)
    _set_progress(batch.pk, checksum=table.checksum, rows_expected=table.expected_rows)
    batch.checksum, batch.rows_expected = table.checksum, table.expected_rows
    watch.lap("inspect_s")
    validator = source_validator(batch.source)
    types = {s.name: s.type for s in validator.fields}
    write = _write_while_checking if connection.vendor == "postgresql" else _check_then_write
    try:
        check, counts = write(batch, table, validator, types, watch)
    except Rejected as rejected:
        check = rejected.check
        check.problems.sort(key=lambda p: (p["row"], p["column"]))
        _finish_rejected(batch, check.problems, check.problem_count, warnings=table.warnings + validator.warnings,
                         received=check.received, rejected=len(check.bad_rows))
        return
    timings = {**watch.timings, **check.timings, **counts.timings, "total_s": round(time.perf_counter() - started, 3)}
    IngestBatch.objects.filter(pk=batch.pk).update(timings=timings)
    batch.timings = timings


def _write_while_checking(batch: IngestBatch, table: TableFile, validator: Validator, types: dict[str, str],
                          watch: Stopwatch) -> tuple["TableCheck", MergeCounts]:
    """PostgreSQL: each chunk is written as soon as it passes, while the next one is read and checked.

    It all happens in one transaction under the source's lock, so a bad row anywhere rolls every
    write back, and concurrent batches for the source wait their turn. Progress is written on a
    connection of its own so that it shows while the transaction is open.
    """
    with transaction.atomic(), OutsideProgress(batch.pk) as progress:
        _lock_source(batch.source)
        with open_merger(batch, types) as merger:
            check = _check_table(batch, table, validator, sink=merger.add, progress=progress, prepare=merger.prepare)
            watch.lap("validate_s")
            _refuse_bad_table(batch, check)
            counts = merger.finish(snapshot=batch.mode == IngestBatch.Mode.SNAPSHOT, present_keys=check.present_keys)
        watch.lap("write_s")
        _finish_succeeded(batch, counts, check, warnings=table.warnings + validator.warnings)
    return check, counts


def _check_then_write(batch: IngestBatch, table: TableFile, validator: Validator, types: dict[str, str],
                      watch: Stopwatch) -> tuple["TableCheck", MergeCounts]:
    """Other databases: check the whole table first (chunks wait on disk), then write it in one short transaction."""
    with open_stage(spill_to=upload_folder()) as stage:
        check = _check_table(batch, table, validator, sink=stage.add,
                             progress=lambda rows: _set_progress(batch.pk, rows_read=rows))
        watch.lap("validate_s")
        _refuse_bad_table(batch, check)
        with transaction.atomic():
            _lock_source(batch.source)
            with open_merger(batch, types) as merger:
                for chunk in stage.chunks():
                    merger.add(chunk)
                counts = merger.finish(snapshot=batch.mode == IngestBatch.Mode.SNAPSHOT,
                                       present_keys=check.present_keys)
            watch.lap("write_s")
            _finish_succeeded(batch, counts, check, warnings=table.warnings + validator.warnings)
    return check, counts


def _lock_source(source: Source, *, wait_seconds: float | None = None) -> None:
    """One batch at a time per source: concurrent batches queue here instead of racing.

    With wait_seconds (PostgreSQL), give up after that long with Busy rather than wait for a long batch.
    """
    if wait_seconds is None or connection.vendor != "postgresql":
        Source.objects.select_for_update().filter(pk=source.pk).first()
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: a timeout leaves the caller's transaction usable
            cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                           [f"{round(wait_seconds * 1000)}ms"])
            before = cursor.fetchone()[0]
            Source.objects.select_for_update().filter(pk=source.pk).first()
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    except OperationalError:
        running = IngestBatch.objects.filter(source=source, status=IngestBatch.Status.RUNNING).order_by("pk").first()
        doing = f"batch #{running.pk} is being written to it" if running else "another write holds it"
        raise Busy(f"The source {source.name} is busy: {doing}. Try again in a few seconds.") from None


def _refuse_bad_table(batch: IngestBatch, check: "TableCheck") -> None:
    if check.received == 0:
        raise TableError("The file has a header but no rows.")
    if check.bad_rows and not batch.partial:
        raise Rejected(check)


class OutsideProgress:
    """Writes a running batch's rows_read on a second connection, visible outside the batch's transaction.

    Best effort: a progress figure is never worth waiting for a lock or failing the batch.
    """

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.connection = None

    def __enter__(self) -> "OutsideProgress":
        return self

    def __call__(self, rows_read: int) -> None:
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
                with self.connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '1s'")
            with self.connection.cursor() as cursor:
                cursor.execute("UPDATE mastering_ingestbatch SET rows_read = %s WHERE id = %s", [rows_read, self.batch_id])
        except DatabaseError:
            logger.warning("Could not record progress of batch %s", self.batch_id, exc_info=True)

    def __exit__(self, *exc) -> None:
        if self.connection is not None:
            self.connection.close()


def _check_table(batch: IngestBatch, table: TableFile, validator: Validator, *,
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


def _finish_succeeded(batch: IngestBatch, counts: MergeCounts, check: "TableCheck", *, warnings: list[str]) -> None:
    batch.status = IngestBatch.Status.SUCCEEDED
    batch.received, batch.rejected = check.received, len(check.bad_rows)
    batch.created, batch.updated, batch.unchanged, batch.retired = counts.created, counts.updated, counts.unchanged, counts.retired
    batch.rows_read = check.received
    batch.problems, batch.problem_count, batch.warnings = check.problems, check.problem_count, warnings
    batch.finished_at = timezone.now()
    batch.upload_path = ""
    batch.error = ""  # had a page taken it for dead while it worked, it did finish after all
    # Named fields: the heartbeat thread stamps heartbeat_at meanwhile, and that stamp is kept.
    batch.save(update_fields=["status", "received", "rejected", "created", "updated", "unchanged", "retired", "rows_read",
                              "problems", "problem_count", "warnings", "finished_at", "upload_path", "error", "updated_at"])
    record_activity(
        kind=Activity.Kind.INGEST, actor=batch.user,
        summary=f"{batch.source.name}: {batch.received} rows, {counts.created} new, {counts.updated} changed, "
                f"{counts.unchanged} unchanged, {batch.rejected} rejected, {counts.retired} retired",
        parameters={"channel": batch.channel, "file_name": batch.file_name, "checksum": batch.checksum,
                    "mode": batch.mode, "partial": batch.partial, "counts": batch.counts},
        inputs=[batch.source], outputs=[batch], started_at=batch.started_at,
    )


def _finish_rejected(batch: IngestBatch, problems: list[dict], problem_count: int, *, warnings: list[str],
                     received: int = 0, rejected: int = 0) -> None:
    with transaction.atomic():
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=IngestBatch.Status.REJECTED, problems=problems, problem_count=problem_count, warnings=warnings,
            received=received, rejected=rejected, rows_read=received, finished_at=timezone.now(), upload_path="",
            error="",
        )
        batch.refresh_from_db()
        record_activity(
            kind=Activity.Kind.INGEST, actor=batch.user,
            summary=f"{batch.source.name}: batch rejected, {problem_count} problem{'s' if problem_count != 1 else ''}",
            parameters={"channel": batch.channel, "file_name": batch.file_name, "checksum": batch.checksum,
                        "mode": batch.mode, "partial": batch.partial, "counts": batch.counts},
            inputs=[batch.source], outputs=[batch], started_at=batch.started_at,
        )


def upsert_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> SourceRecord:
    """Create or replace one record (the streaming path); an unchanged record keeps its version.

    A PUT replaces the whole record, as HTTP has it: a field left out of data becomes empty (tables, by
    contrast, keep the current value of a column they leave out). data without any field of the source
    besides the key is refused, since it would empty the record.
    """
    # SQLite has one writer for the whole file, taken as the transaction begins: wait for it as long as PostgreSQL
    # waits for the source's lock, then answer 503 (steward.errors.busy_from_lock_timeout) rather than hang.
    with sqlite_lock_wait(STREAM_LOCK_WAIT_SECONDS), transaction.atomic():
        return _upsert_record(source=source, key=key, data=data, user=user)


def _upsert_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> SourceRecord:
    _check_active(source)
    if not isinstance(data, dict):
        raise InvalidInput("The record must be a JSON object of field values.")
    nested = [name for name, value in data.items() if isinstance(value, (dict, list))]
    if nested:
        raise InvalidInput(f"Values must be plain, not objects or lists: {', '.join(nested)}.")
    # A JSON \u escape can spell text that cannot be stored (a NUL, an unpaired surrogate), as in a table's objects.
    unstorable = [f"The field name {shown(str(name))} has {flaw(str(name))}" for name in data if flaw(str(name))]
    unstorable += [f"{shown(str(name))} holds {flaw(value)}" for name, value in data.items()
                   if isinstance(value, str) and has_surrogate(value)]
    if unstorable:
        raise InvalidInput("; ".join(unstorable) + ".")
    others = [f.name for f in source.fields.all() if f.name != source.key_field]
    if others and not any(name in data for name in others):
        given = ", ".join(str(name) for name in data if name != source.key_field) or "none"
        raise InvalidInput(
            f"The record has no field of this source besides the key {source.key_field!r} (fields given: {given}). "
            f"Expected at least one of: {', '.join(others)}. A PUT replaces the whole record, so send every field "
            "it should keep.")
    given_key = data.get(source.key_field)
    if given_key not in (None, "") and str(given_key).strip() != str(key).strip():
        raise InvalidInput(f"The record's {source.key_field} ({given_key}) differs from the key in the address ({key}).")
    cells = {name: ("" if value is None else ("true" if value is True else "false" if value is False else str(value)))
             for name, value in data.items()}
    cells[source.key_field] = str(key)
    validator = source_validator(source)
    frame = pd.DataFrame([cells])
    validated, problems = validator.validate(frame, pd.Series([2], index=frame.index))
    if problems:
        for problem in problems:
            problem.pop("row", None)
        raise InvalidInput(
            "; ".join(f"{p['column']} {p['reason']}" for p in problems), problems=problems
        )
    validated.absent = {}  # a PUT replaces the record: a field it leaves out is empty, not kept
    _lock_source(source, wait_seconds=STREAM_LOCK_WAIT_SECONDS)
    now = timezone.now()
    batch = IngestBatch.objects.create(
        source=source, user=user, channel=IngestBatch.Channel.STREAM, file_name="", mode=IngestBatch.Mode.APPEND,
        status=IngestBatch.Status.RUNNING, started_at=now, heartbeat_at=now, received=1, rows_read=1,
    )
    with open_merger(batch, {s.name: s.type for s in validator.fields}) as merger:
        merger.add(validated)
        counts = merger.finish(snapshot=False, present_keys=set())
    batch.created, batch.updated, batch.unchanged = counts.created, counts.updated, counts.unchanged
    batch.status, batch.finished_at = IngestBatch.Status.SUCCEEDED, timezone.now()
    batch.warnings = validator.warnings
    batch.save()
    record = SourceRecord.objects.get(source=source, key=validated.keys[0].as_py())
    record_activity(
        kind=Activity.Kind.STREAM, actor=user,
        summary=f"{source.name}:{record.key} {'created' if counts.created else 'updated' if counts.updated else 'unchanged'} (v{record.version})",
        parameters={"channel": batch.channel, "counts": batch.counts}, inputs=[source], outputs=[batch, record],
        started_at=now,
    )
    return record

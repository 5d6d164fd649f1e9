"""The ingest job: check a stored table row by row and write it in one transaction, reporting as it goes."""

import logging
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from lineage.models import Activity, RunEvent
from lineage.services import record_activity
from mastering.ingest.merging import MergeCounts, open_merger
from mastering.ingest.parsing import TableError, TableFile, inspect_file
from mastering.ingest.staging import open_stage
from mastering.ingest.validation import Validator
from mastering.models import IngestBatch, Job, Source
from mastering.services.batch_listeners import notify_batch_listeners
from mastering.services.ingest.checking import Rejected, Stopwatch, TableCheck, check_table, refuse_bad_table
from mastering.services.ingest.gate import lock_source, source_validator
from mastering.services import run_lineage
from mastering.services.ingest.receiving import upload_folder
from mastering.services.progress import JobCancelled, Progress
from mastering.services.stream_master import place_batch
from steward.errors import ServiceError

logger = logging.getLogger(__name__)


class TableRejected(ServiceError):
    """The table was refused (bad rows in an all-or-nothing batch, or unreadable): the job failed, its batch says why."""


def run_ingest_job(job: Job, progress: Progress) -> dict:
    """Check a stored table row by row, then write it all at once (or, with partial, its good rows)."""
    batch = IngestBatch.objects.select_related("source", "user").get(job=job)
    # Compare-and-set: a batch cancelled as its job started has ended already, and stays so.
    if not IngestBatch.objects.filter(pk=batch.pk, status=IngestBatch.Status.QUEUED).update(
            status=IngestBatch.Status.RUNNING, started_at=job.started_at):
        raise JobCancelled()
    batch.status, batch.started_at = IngestBatch.Status.RUNNING, job.started_at
    path = Path(batch.upload_path)
    try:
        return _ingest(batch, path, progress)
    finally:
        # A batch rejected for some bad rows keeps its table, so it can be sent again keeping the good rows
        # (resend_good_rows); the day-old sweep removes it if nobody does.
        if not (batch.status == IngestBatch.Status.REJECTED and batch.upload_path):
            path.unlink(missing_ok=True)


def end_ingest_job(job: Job) -> None:
    """A failed or cancelled ingest job: its batch says so and its upload goes (nothing of it was written)."""
    batch = IngestBatch.objects.filter(job=job).first()
    if batch is None:
        return
    cancelled = job.status == Job.Status.CANCELLED
    reason = job.error or ("Cancelled." if cancelled else "Failed.")
    # Its writes were one transaction, which the cancel or the failure rolled back (or the dead worker's connection took).
    error = f"{reason} None of its rows were written{'' if cancelled else '; send the table again'}."
    ended = IngestBatch.objects.filter(pk=batch.pk, status__in=[IngestBatch.Status.QUEUED, IngestBatch.Status.RUNNING])
    if ended.update(status=IngestBatch.Status.CANCELLED if cancelled else IngestBatch.Status.FAILED,
                    finished_at=job.finished_at or timezone.now(), upload_path="", error=error[:2000]):
        if batch.upload_path:
            Path(batch.upload_path).unlink(missing_ok=True)


def _ingest(batch: IngestBatch, path: Path, progress: Progress) -> dict:
    started = time.perf_counter()
    watch = Stopwatch()
    try:
        table = inspect_file(path, batch.file_name)
        IngestBatch.objects.filter(pk=batch.pk).update(checksum=table.checksum, rows_expected=table.expected_rows)
        batch.checksum, batch.rows_expected = table.checksum, table.expected_rows
        watch.lap("inspect_s")
        validator = source_validator(batch.source)
        types = {s.name: s.type for s in validator.fields}
        write = _write_while_checking if connection.vendor == "postgresql" else _check_then_write
        check, counts = write(batch, table, validator, types, watch, progress)
    except TableError as exc:
        _finish_rejected(batch, [{"row": 0, "column": "", "value": "", "reason": exc.message}], 1, warnings=[])
        raise TableRejected(f"The table was rejected: {exc.message}") from None
    except Rejected as rejected:
        check = rejected.check
        check.problems.sort(key=lambda p: (p["row"], p["column"]))
        _finish_rejected(batch, check.problems, check.problem_count, warnings=table.warnings + validator.warnings,
                         received=check.received, rejected=len(check.bad_rows),
                         keep_upload=not batch.partial and len(check.bad_rows) < check.received)
        problems, rows = check.problem_count, len(check.bad_rows)
        raise TableRejected(f"The table was rejected: {problems} problem{'s' if problems != 1 else ''} in {rows} "
                            f"row{'s' if rows != 1 else ''}; nothing was written. The batch lists them.") from None
    timings = {**watch.timings, **check.timings, **counts.timings, "total_s": round(time.perf_counter() - started, 3)}
    IngestBatch.objects.filter(pk=batch.pk).update(timings=timings)
    batch.timings = timings
    return {**batch.counts, "rows_read": check.received, "problems": check.problem_count}


def _reporter(batch: IngestBatch, progress: Progress) -> Callable[[int], None]:
    """Rows read so far, on the batch and as the job's progress; the job stops here if it was cancelled."""

    def report(rows_read: int) -> None:
        progress.write(IngestBatch, batch.pk, rows_read=rows_read)
        progress.update(rows_read / batch.rows_expected if batch.rows_expected else None, rows_read=rows_read)

    return report


def _write_while_checking(batch: IngestBatch, table: TableFile, validator: Validator, types: dict[str, str],
                          watch: Stopwatch, progress: Progress) -> tuple[TableCheck, MergeCounts]:
    """PostgreSQL: each chunk is written as soon as it passes, while the next one is read and checked.

    It all happens in one transaction under the source's lock, so a bad row anywhere (or a cancel) rolls
    every write back, and concurrent batches for the source wait their turn. Progress is written on a
    connection of its own so that it shows while the transaction is open.
    """
    progress.begin("check and write")
    with progress.outside_transaction(), transaction.atomic():
        lock_source(batch.source)
        with open_merger(batch, types) as merger:
            check = check_table(batch, table, validator, sink=merger.add, progress=_reporter(batch, progress),
                                prepare=merger.prepare)
            watch.lap("validate_s")
            refuse_bad_table(batch, check)
            counts = merger.finish(snapshot=batch.mode == IngestBatch.Mode.SNAPSHOT, present_keys=check.present_keys)
        watch.lap("write_s")
        progress.check_cancelled()  # the last moment a cancel can still take it all back
        _finish_succeeded(batch, counts, check, warnings=table.warnings + validator.warnings)
    return check, counts


def _check_then_write(batch: IngestBatch, table: TableFile, validator: Validator, types: dict[str, str],
                      watch: Stopwatch, progress: Progress) -> tuple[TableCheck, MergeCounts]:
    """Other databases: check the whole table first (chunks wait on disk), then write it in one short transaction."""
    with open_stage(spill_to=upload_folder()) as stage:
        progress.begin("check")
        check = check_table(batch, table, validator, sink=stage.add, progress=_reporter(batch, progress))
        watch.lap("validate_s")
        refuse_bad_table(batch, check)
        progress.begin("write")
        with transaction.atomic():
            lock_source(batch.source)
            with open_merger(batch, types) as merger:
                for chunk in stage.chunks():
                    merger.add(chunk)
                counts = merger.finish(snapshot=batch.mode == IngestBatch.Mode.SNAPSHOT,
                                       present_keys=check.present_keys)
            watch.lap("write_s")
            progress.check_cancelled()  # the last moment a cancel can still take it all back
            _finish_succeeded(batch, counts, check, warnings=table.warnings + validator.warnings)
    return check, counts


def _finish_succeeded(batch: IngestBatch, counts: MergeCounts, check: TableCheck, *, warnings: list[str]) -> None:
    if batch.source.ingest_mode == Source.IngestMode.STREAM:
        # A stream-mode source masters as records arrive, batches included, in the batch's transaction.
        unplaced = place_batch(batch=batch)
        warnings = [*warnings, unplaced] if unplaced else warnings
    batch.status = IngestBatch.Status.SUCCEEDED
    batch.received, batch.rejected = check.received, len(check.bad_rows)
    batch.created, batch.updated, batch.unchanged, batch.retired = counts.created, counts.updated, counts.unchanged, counts.retired
    batch.rows_read = check.received
    batch.problems, batch.problem_count, batch.warnings = check.problems, check.problem_count, warnings
    batch.finished_at = timezone.now()
    batch.upload_path = ""
    batch.error = ""  # had the sweep taken it for dead while it worked, it did finish after all
    # Named fields: the progress writer may have touched the row on its own connection.
    batch.save(update_fields=["status", "received", "rejected", "created", "updated", "unchanged", "retired", "rows_read",
                              "problems", "problem_count", "warnings", "finished_at", "upload_path", "error", "updated_at"])
    record_activity(
        kind=Activity.Kind.INGEST, actor=batch.user,
        summary=f"{batch.source.name}: {batch.received} rows, {counts.created} new, {counts.updated} changed, "
                f"{counts.unchanged} unchanged, {batch.rejected} rejected, {counts.retired} retired",
        parameters={"channel": batch.channel, "file_name": batch.file_name, "checksum": batch.checksum,
                    "mode": batch.mode, "partial": batch.partial, "counts": batch.counts, "job": batch.job_id},
        inputs=[batch.source], outputs=[batch], started_at=batch.started_at,
        run=run_lineage.run_facts(batch.job, counts=batch.counts),
    )
    if counts.created or counts.updated:
        notify_batch_listeners(batch)


def _finish_rejected(batch: IngestBatch, problems: list[dict], problem_count: int, *, warnings: list[str],
                     received: int = 0, rejected: int = 0, keep_upload: bool = False) -> None:
    with transaction.atomic():
        IngestBatch.objects.filter(pk=batch.pk).update(
            status=IngestBatch.Status.REJECTED, problems=problems, problem_count=problem_count, warnings=warnings,
            received=received, rejected=rejected, rows_read=received, finished_at=timezone.now(),
            upload_path=batch.upload_path if keep_upload else "",
            error="",
        )
        batch.refresh_from_db()
        record_activity(
            kind=Activity.Kind.INGEST, actor=batch.user,
            summary=f"{batch.source.name}: batch rejected, {problem_count} problem{'s' if problem_count != 1 else ''}",
            parameters={"channel": batch.channel, "file_name": batch.file_name, "checksum": batch.checksum,
                        "mode": batch.mode, "partial": batch.partial, "counts": batch.counts, "job": batch.job_id},
            inputs=[batch.source], outputs=[batch], started_at=batch.started_at,
            run=run_lineage.run_facts(batch.job, counts=batch.counts, error=f"The table was rejected: {problem_count} "
                                      f"problem{'s' if problem_count != 1 else ''}."),
            run_ends=RunEvent.EventType.FAIL,
        )

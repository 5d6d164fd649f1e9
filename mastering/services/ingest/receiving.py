"""Tables into a source: stored on disk, then ingested by a job of their own (inline when small)."""

import time
import uuid
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from mastering.ingest.limits import TooLarge
from mastering.ingest.parsing import write_upload
from mastering.models import IngestBatch, Job, Source
from mastering.services import jobs
from mastering.services.ingest.gate import check_active
from steward.errors import InvalidInput


def upload_folder() -> Path:
    folder = Path(settings.DATA_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
    check_active(source)
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
    """A fresh place for an incoming table."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        remove_abandoned_uploads()  # no broker, so no beat to run it on its schedule: it runs here instead
    return upload_folder() / f"{uuid.uuid4().hex}.upload"


def remove_abandoned_uploads() -> int:
    """Remove uploads left for a day: an upload page's table never confirmed, a batch's file never cleaned up."""
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    removed = 0
    for old in upload_folder().glob("*.upload"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
                removed += 1
        except OSError:
            continue  # another process removed it
    return removed


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
    check_active(source)
    if mode not in IngestBatch.Mode.values:
        raise InvalidInput(f"Unknown mode {mode!r}; use append or snapshot.")
    size = path.stat().st_size
    if background is None:
        background = size > settings.STEWARD_INLINE_INGEST_BYTES
    with transaction.atomic():
        job = jobs.start_job(kind=Job.Kind.INGEST, source=source, user=user, background=background,
                             parameters={"mode": mode, "partial": partial, "channel": channel})
        batch = IngestBatch.objects.create(
            source=source, user=user, channel=channel, file_name=Path(file_name or "table").name[:255],
            size_bytes=size, mode=mode, partial=partial, upload_path=str(path), job=job,
        )
    if not background:
        jobs.run_job(job_id=job.pk)
        batch.refresh_from_db()
    return batch


def run_ingest(*, batch_id: int) -> IngestBatch:
    """Run a batch's ingest job; a no-op when it has run (a message queued before ingests were jobs names the batch)."""
    job_id = IngestBatch.objects.values_list("job_id", flat=True).get(pk=batch_id)
    if job_id is not None:
        jobs.run_job(job_id=job_id)
    return IngestBatch.objects.select_related("source", "user", "job").get(pk=batch_id)

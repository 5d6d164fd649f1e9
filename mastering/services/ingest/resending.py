"""A rejected batch sent again keeping its good rows: the table it kept goes through ingest once more, with
"keep the good rows" on, as a new batch; the rejected rows stay listed (and downloadable) on the first batch."""

import shutil
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from lineage.models import Activity
from lineage.services import record_activity
from mastering.models import IngestBatch
from mastering.services.ingest.receiving import new_upload_path, receive_stored_table
from steward.errors import ServiceError


class CannotResend(ServiceError):
    pass


def can_resend(batch: IngestBatch) -> bool:
    """Whether the batch page offers "send again keeping the good rows"."""
    return batch.status == IngestBatch.Status.REJECTED and not batch.partial and bool(batch.upload_path)


def resend_good_rows(*, batch: IngestBatch, user: AbstractBaseUser | None) -> IngestBatch:
    """Ingest a rejected batch's table again, writing its good rows and reporting the bad ones; returns the new batch."""
    if batch.status != IngestBatch.Status.REJECTED or batch.partial:
        raise CannotResend("Only a batch rejected for some bad rows can be sent again keeping the good rows.")
    kept = Path(batch.upload_path) if batch.upload_path else None
    # Compare-and-set: the batch gives up its table once, so two clicks send it once.
    with transaction.atomic():
        claimed = IngestBatch.objects.filter(pk=batch.pk, status=IngestBatch.Status.REJECTED, partial=False,
                                             upload_path=batch.upload_path).exclude(upload_path="").update(upload_path="")
    if not claimed:
        raise CannotResend("This batch was already sent again, or its table is no longer kept; upload the table again.")
    if kept is None or not kept.exists():
        raise CannotResend("Its table is no longer kept (tables of rejected batches are kept for a day); upload it again.")
    path = new_upload_path()
    shutil.move(kept, path)
    new_batch = receive_stored_table(source=batch.source, path=path, file_name=batch.file_name, user=user,
                                     channel=batch.channel, mode=batch.mode, partial=True)
    with transaction.atomic():
        record_activity(kind=Activity.Kind.INGEST, actor=user,
                        summary=f"{batch.source.name}: batch {batch.pk} sent again keeping its good rows, as batch {new_batch.pk}",
                        parameters={"resent_from": batch.pk, "batch": new_batch.pk, "mode": batch.mode},
                        inputs=[batch], outputs=[new_batch])
    return new_batch

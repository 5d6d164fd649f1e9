"""Every existing table batch gets its Job, carrying its status, times and heartbeat (dropped from the batch next)."""

from django.db import migrations

# Batch outcome -> job status: a rejected table is a job that ran to its end.
JOB_STATUS = {"queued": "queued", "running": "running", "succeeded": "done", "rejected": "done", "failed": "failed"}
COUNTS = ("received", "created", "updated", "unchanged", "rejected", "retired")


def create_ingest_jobs(apps, schema_editor):
    IngestBatch = apps.get_model("mastering", "IngestBatch")
    Job = apps.get_model("mastering", "Job")
    # Streamed records were written inside their request: they had no lifecycle to carry over.
    batches = IngestBatch.objects.filter(job__isnull=True).exclude(channel="stream").order_by("pk")
    for batch in batches.iterator(chunk_size=2000):
        status = JOB_STATUS[batch.status]
        job = Job.objects.create(
            kind="ingest", source_id=batch.source_id, status=status, started_by_id=batch.user_id,
            stage="done" if status == "done" else "", progress=1.0 if status == "done" else 0.0,
            counts={name: getattr(batch, name) for name in COUNTS} | {"rows_read": batch.rows_read},
            timings=batch.timings, error=batch.error, started_at=batch.started_at, finished_at=batch.finished_at,
            # A running batch from before heartbeats existed goes by its start: the sweep fails it if that is long ago.
            heartbeat_at=batch.heartbeat_at or batch.started_at,
        )
        Job.objects.filter(pk=job.pk).update(created_at=batch.created_at)
        IngestBatch.objects.filter(pk=batch.pk).update(job=job)


class Migration(migrations.Migration):

    dependencies = [("mastering", "0012_ingest_jobs")]

    operations = [migrations.RunPython(create_ingest_jobs, migrations.RunPython.noop)]

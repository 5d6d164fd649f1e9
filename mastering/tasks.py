from celery import shared_task

from mastering import services


@shared_task(acks_late=True)
def run_ingest(batch_id: int) -> None:
    """Ingest a stored table; a redelivered message is a no-op."""
    services.run_ingest(batch_id=batch_id)


@shared_task(acks_late=True)
def run_job(job_id: int) -> None:
    """Run a queued job; a redelivered message is a no-op."""
    services.run_job(job_id=job_id)

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


@shared_task(acks_late=True)
def block_records(job_id: int, chunk: int) -> None:
    """Write the blocking keys of one slice of a mastering run's records."""
    from mastering.services import master

    master.block_records(job_id=job_id, chunk=chunk)


@shared_task(acks_late=True)
def score_pairs(job_id: int, chunk: int) -> None:
    """Score one chunk of a mastering run's pairs; already-scored pairs are skipped."""
    from mastering.services import master

    master.score_pairs(job_id=job_id, chunk=chunk)


@shared_task(acks_late=True)
def finish_master(job_id: int) -> None:
    """Cluster, keep ids and write golden records for a run whose pairs are all scored."""
    from mastering.services import master

    master.finish_master(job_id=job_id)

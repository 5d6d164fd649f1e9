from celery import shared_task

from mastering import services


@shared_task(acks_late=True)
def run_ingest(batch_id: int) -> None:
    """Run a batch's ingest job (messages queued before ingests were jobs); a redelivered message is a no-op."""
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


@shared_task
def sweep_jobs() -> dict[str, list[int]]:
    """Fail running jobs whose worker died (run by beat, see CELERY_BEAT_SCHEDULE)."""
    return services.sweep_jobs()


@shared_task
def remove_abandoned_uploads() -> int:
    """Remove uploaded tables left for a day (run by beat, see CELERY_BEAT_SCHEDULE)."""
    return services.remove_abandoned_uploads()

"""Fan-out and fan-in of a staged job through JobChunk rows."""

import time

from django.db import transaction
from django.utils import timezone

from mastering.models import Job, JobChunk


class Chunked:
    """Bookkeeping for one stage of one job."""

    def __init__(self, job: Job, stage: str):
        self.job = job
        self.stage = stage

    def plan(self, slices: list[tuple[int, int]]) -> list[int]:
        """Create one chunk per (first, last) slice; returns their numbers."""
        JobChunk.objects.bulk_create(
            [JobChunk(job=self.job, stage=self.stage, number=n, first=first, last=last) for n, (first, last) in enumerate(slices)]
        )
        return list(range(len(slices)))

    def get(self, number: int) -> JobChunk | None:
        return JobChunk.objects.filter(job=self.job, stage=self.stage, number=number).first()

    def complete(self, number: int, started: float, cpu_started: float | None = None) -> bool:
        """Mark a chunk done; True when this call finished the stage's last chunk (exactly once per stage).

        With cpu_started (a time.process_time() reading), the chunk's CPU seconds are added to the stage's
        CPU figure in the job's timings: on a loaded machine they say more than wall seconds.
        """
        with transaction.atomic():
            marked = JobChunk.objects.filter(job=self.job, stage=self.stage, number=number, done=False).update(
                done=True, seconds=round(time.perf_counter() - started, 3))
            if not marked:
                return False  # a redelivered chunk: its first delivery did the bookkeeping
            # Lock the job row so two last chunks finishing together cannot both see "none left".
            job = Job.objects.select_for_update().filter(pk=self.job.pk).first()
            remaining = JobChunk.objects.filter(job=self.job, stage=self.stage, done=False).count()
            total = JobChunk.objects.filter(job=self.job, stage=self.stage).count()
            timings = dict(job.timings) if job is not None else {}
            if cpu_started is not None:
                key = f"{self.stage} CPU (sum over chunks)"
                timings[key] = round(timings.get(key, 0.0) + time.process_time() - cpu_started, 3)
            if remaining:
                Job.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now(), timings=timings)
                return False
            seconds = sum(JobChunk.objects.filter(job=self.job, stage=self.stage).values_list("seconds", flat=True))
            timings[f"{self.stage} (sum over {total} chunks)"] = round(seconds, 3)
            Job.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now(), timings=timings)
            return True

    def fraction_done(self) -> float:
        total = JobChunk.objects.filter(job=self.job, stage=self.stage).count()
        done = JobChunk.objects.filter(job=self.job, stage=self.stage, done=True).count()
        return done / total if total else 1.0


def slices(ids: list[int], size: int) -> list[tuple[int, int]]:
    """Consecutive (first, last) id ranges of at most `size` ids each."""
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def running(job_id: int) -> Job | None:
    """The job if it is still running; a job someone asked to stop is marked cancelled here instead."""
    from mastering.services.jobs import fail_job

    job = Job.objects.select_related("entity_type", "model", "started_by").filter(pk=job_id, status=Job.Status.RUNNING).first()
    if job is not None and job.cancel_requested:
        fail_job(job, cancelled=True)
        return None
    return job

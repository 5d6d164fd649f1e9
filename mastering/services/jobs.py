"""Jobs: start, run (with progress), cancel. Apps register the runner for each job kind."""

import logging
import time
from collections.abc import Callable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from mastering import tasks
from mastering.models import EntityType, Job, JobHold
from mastering.services.liveness import STALE_AFTER, dead_holds, holding, keep_alive, stale_before
from steward.errors import InvalidInput, ServiceError

logger = logging.getLogger(__name__)


class JobAlreadyRunning(ServiceError):
    def __init__(self, job: Job):
        super().__init__(f"A {job.get_kind_display().lower()} job (#{job.pk}) is already {job.status} for {job.entity_type}.")
        self.job = job


class JobCancelled(Exception):
    """Raised inside a runner when someone asked the job to stop."""


class Progress:
    """What a runner reports while it works; also where it learns it was cancelled."""

    def __init__(self, job: Job):
        self.job = job
        self.started = time.perf_counter()
        self.stage_started = self.started
        self.timings: dict[str, float] = {}
        self.stage = ""

    def stage_done(self) -> None:
        if self.stage:
            self.timings[self.stage] = round(time.perf_counter() - self.stage_started, 3)

    def begin(self, stage: str, fraction: float | None = None) -> None:
        """Start a named stage; the previous one's duration goes into the job's timings."""
        self.stage_done()
        self.stage = stage
        self.stage_started = time.perf_counter()
        self.update(fraction)

    def update(self, fraction: float | None = None, **counts) -> None:
        """Write progress (0..1) and counts to the job row where pages can see it; stop if cancelled."""
        fields: dict = {"stage": self.stage, "timings": self.timings, "heartbeat_at": timezone.now()}
        if fraction is not None:
            fraction = max(0.0, min(1.0, fraction))
            fields["progress"] = fraction
            elapsed = time.perf_counter() - self.started
            fields["eta_seconds"] = round(elapsed * (1 - fraction) / fraction, 1) if fraction > 0.02 else None
        if counts:
            self.job.counts = {**self.job.counts, **counts}
            fields["counts"] = self.job.counts
        Job.objects.filter(pk=self.job.pk).update(**fields)
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()


# A runner returns this when it handed the rest of the work to other tasks, which finish the job.
CONTINUES = object()

JobRunner = Callable[[Job, Progress], dict]
_RUNNERS: dict[str, JobRunner] = {}


def register_job_runner(kind: str, runner: JobRunner) -> None:
    """Let an app run a kind of job (curation registers training; mastering registers mastering)."""
    _RUNNERS[kind] = runner


def start_job(*, entity_type: EntityType, kind: str, user: AbstractBaseUser | None = None,
              parameters: dict | None = None) -> Job:
    """Queue a job of a kind for an entity type; refused while another of that kind is live."""
    if kind not in _RUNNERS:
        raise InvalidInput(f"Unknown job kind {kind!r}; use one of: {', '.join(sorted(_RUNNERS))}.")
    fail_stale_jobs(entity_type=entity_type, kinds=[kind])
    fail_lost_jobs(entity_type=entity_type, kinds=[kind])
    try:
        with transaction.atomic():
            job = Job.objects.create(entity_type=entity_type, kind=kind, started_by=user, parameters=parameters or {})
    except IntegrityError:
        live = Job.objects.filter(entity_type=entity_type, kind=kind, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
        if live is None:  # it finished in between
            return start_job(entity_type=entity_type, kind=kind, user=user, parameters=parameters)
        raise JobAlreadyRunning(live) from None
    transaction.on_commit(lambda: tasks.run_job.delay(job.pk))
    return job


def fail_stale_jobs(*, entity_type: EntityType, kinds: list[str]) -> None:
    """Mark running jobs whose worker stopped reporting as failed, so the work can start again."""
    cutoff = stale_before()
    Job.objects.filter(entity_type=entity_type, kind__in=kinds, status=Job.Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=Job.Status.FAILED, error="The worker stopped reporting progress (it may have been killed); started again.",
        finished_at=timezone.now(),
    )


LOST_ERROR = "Its worker was lost ({worker}, process {pid}) while it ran {task}; start the job again."


def fail_lost_jobs(*, entity_type: EntityType | None = None, kinds: list[str] | None = None) -> list[int]:
    """Fail running jobs a dead process was working on (its hold outlived it), freeing their entity types at once."""
    holds = JobHold.objects.filter(job__status=Job.Status.RUNNING).select_related("job")
    if entity_type is not None:
        holds = holds.filter(job__entity_type=entity_type)
    if kinds is not None:
        holds = holds.filter(job__kind__in=kinds)
    lost = dead_holds(list(holds))
    failed = []
    for hold in lost:
        if hold.job_id in failed:
            continue
        logger.warning("Job %s lost its worker %s (process %s); failing it", hold.job_id, hold.node or hold.host, hold.pid)
        fail_job(hold.job, error=LOST_ERROR.format(worker=hold.node or hold.host, pid=hold.pid, task=hold.task))
        failed.append(hold.job_id)
    JobHold.objects.filter(pk__in=[hold.pk for hold in lost]).delete()
    return failed


def run_job(*, job_id: int) -> Job:
    """Move a job from queued to running, run it, and record the outcome on the Job row."""
    now = timezone.now()
    started = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    job = Job.objects.select_related("entity_type", "started_by").get(pk=job_id)
    if started != 1:
        return job  # taken by another worker, cancelled, or finished: a redelivered task does nothing
    progress = Progress(job)
    try:
        with holding(job, "run_job"), keep_alive(Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING)):
            counts = _RUNNERS[job.kind](job, progress)
    except JobCancelled:
        progress.stage_done()
        fail_job(job, cancelled=True, timings=progress.timings)
    except Exception as exc:
        logger.exception("Job %s failed", job_id)
        progress.stage_done()
        message = exc.message if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}"
        fail_job(job, error=message, timings=progress.timings)
    else:
        if counts is not CONTINUES:
            progress.stage_done()
            finish_job(job, counts=counts or {}, timings=progress.timings)
    job.refresh_from_db()
    return job


def finish_job(job: Job, *, counts: dict, timings: dict) -> None:
    """Mark a running job done with its counts and stage timings."""
    job.refresh_from_db(fields=["counts", "started_at"])
    total = (timezone.now() - job.started_at).total_seconds() if job.started_at else None
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        status=Job.Status.DONE, counts={**job.counts, **counts}, progress=1.0, eta_seconds=0, finished_at=timezone.now(),
        timings={**timings, **({"total": round(total, 3)} if total is not None else {})}, stage="done",
    )


def fail_job(job: Job, *, error: str = "", cancelled: bool = False, timings: dict | None = None) -> None:
    """Mark a running job failed (with its error) or cancelled."""
    fields = {"status": Job.Status.CANCELLED if cancelled else Job.Status.FAILED, "finished_at": timezone.now()}
    if error:
        fields["error"] = error[:4000]
    if timings is not None:
        fields["timings"] = timings
    Job.objects.filter(pk=job.pk, status__in=[Job.Status.RUNNING, Job.Status.QUEUED]).update(**fields)


def cancel_job(*, job: Job, user: AbstractBaseUser | None) -> Job:
    """Cancel a queued job, or a running one that no live process is working on, at once; ask a working one to stop.

    A running job between tasks (its next ones waiting in the queue) is cancelled at once too: each task checks
    the job is still running before it starts, and the finish writes nothing for a job that is not.
    """
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(status=Job.Status.CANCELLED, finished_at=now):
        job.refresh_from_db()
        return job
    holds = list(JobHold.objects.filter(job=job))
    lost = dead_holds(holds)
    if Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER).update(
            status=Job.Status.CANCELLED, finished_at=now, error="Cancelled; its worker had stopped reporting."):
        job.refresh_from_db()
        return job
    if len(lost) == len(holds) and Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.CANCELLED, finished_at=now, cancel_requested=True,
            error="Cancelled; its worker was gone." if lost else ""):
        JobHold.objects.filter(pk__in=[hold.pk for hold in lost]).delete()
        job.refresh_from_db()
        return job
    if not Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(cancel_requested=True):
        raise ServiceError(f"Job #{job.pk} has already finished ({job.status}).")
    job.refresh_from_db()
    return job

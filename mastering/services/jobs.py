"""Jobs: start, run (with progress), cancel, and the sweep for jobs whose worker died. Apps register each kind."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from mastering import tasks
from mastering.models import EntityType, Job, JobHold, Source
from mastering.services.liveness import STALE_AFTER, dead_holds, holding, keep_alive, stale_before
from mastering.services import run_lineage
from mastering.services.progress import JobCancelled, Progress
from steward.errors import InvalidInput, ServiceError

logger = logging.getLogger(__name__)


class JobAlreadyRunning(ServiceError):
    def __init__(self, job: Job):
        super().__init__(f"A {job.get_kind_display().lower()} job (#{job.pk}) is already {job.status} for {job.entity_type}.")
        self.job = job


# A runner returns this when it handed the rest of the work to other tasks, which finish the job.
CONTINUES = object()

JobRunner = Callable[[Job, Progress], dict]
JobEnder = Callable[[Job], None]
_RUNNERS: dict[str, JobRunner] = {}
_ENDERS: dict[str, JobEnder] = {}


def register_job_runner(kind: str, runner: JobRunner, *, on_end: JobEnder | None = None) -> None:
    """Let an app run a kind of job (curation registers training; mastering registers mastering and ingest).

    on_end, if given, is told of every job of the kind that failed or was cancelled, whoever ended it
    (its runner, a cancel, the sweep), to tidy what is particular to the kind.
    """
    _RUNNERS[kind] = runner
    if on_end is not None:
        _ENDERS[kind] = on_end


def start_job(*, kind: str, entity_type: EntityType | None = None, source: Source | None = None,
              user: AbstractBaseUser | None = None, parameters: dict | None = None, background: bool = True) -> Job:
    """Queue a job of a kind for an entity type (or, an ingest, for a source); refused while another of that kind is live.

    With background=False nothing is sent to a worker: the caller runs the job itself (run_job).
    """
    if kind not in _RUNNERS:
        raise InvalidInput(f"Unknown job kind {kind!r}; use one of: {', '.join(sorted(_RUNNERS))}.")
    if entity_type is None and source is None:
        raise InvalidInput("A job works for an entity type or, an ingest, for a source; neither was given.")
    if settings.CELERY_TASK_ALWAYS_EAGER:
        sweep_jobs()  # no broker, so no beat to run the sweep on its schedule: it runs here instead
    elif entity_type is not None:
        # A dead job of the kind would refuse this one until the next sweep: fail it now.
        fail_stale_jobs(entity_type=entity_type, kinds=[kind])
        fail_lost_jobs(entity_type=entity_type, kinds=[kind])
    try:
        with transaction.atomic():
            job = Job.objects.create(entity_type=entity_type, source=source, kind=kind, started_by=user,
                                     parameters=parameters or {})
    except IntegrityError:
        live = Job.objects.filter(entity_type=entity_type, kind=kind, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
        if live is None:  # it finished in between
            return start_job(kind=kind, entity_type=entity_type, source=source, user=user, parameters=parameters,
                             background=background)
        raise JobAlreadyRunning(live) from None
    if background:
        transaction.on_commit(lambda: tasks.run_job.delay(job.pk))
    return job


def sweep_jobs() -> dict[str, list[int]]:
    """Fail every running job whose worker died: its process is gone, or it stopped reporting (the periodic sweep)."""
    return {"lost": fail_lost_jobs(), "stale": fail_stale_jobs()}


STALE_ERROR = "The worker stopped reporting progress (it may have been killed)."


def fail_stale_jobs(*, entity_type: EntityType | None = None, kinds: list[str] | None = None) -> list[int]:
    """Mark running jobs whose worker stopped reporting as failed, so the work can start again.

    Best effort, one job at a time: a database too busy to answer now is asked again at the next sweep.
    """
    silent = Q(status=Job.Status.RUNNING, heartbeat_at__lt=stale_before())
    stale = Job.objects.filter(silent)
    if entity_type is not None:
        stale = stale.filter(entity_type=entity_type)
    if kinds is not None:
        stale = stale.filter(kind__in=kinds)
    try:
        found = list(stale)  # a read: the usual empty answer never waits for a writer
    except DatabaseError:
        logger.warning("Could not look for stale jobs now", exc_info=True)
        return []
    failed = []
    for job in found:
        try:
            with transaction.atomic():  # a savepoint, should the caller be in a transaction and this fail
                if fail_job(job, error=STALE_ERROR, still=silent):
                    failed.append(job.pk)
        except DatabaseError:
            logger.warning("Could not fail stale job %s now", job.pk, exc_info=True)
    return failed


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
    with transaction.atomic():
        started = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
            status=Job.Status.RUNNING, started_at=now, heartbeat_at=now
        )
        job = Job.objects.select_related("entity_type", "source", "started_by").get(pk=job_id)
        if started == 1:
            run_lineage.record_start(job)
    if started != 1:
        return job  # taken by another worker, cancelled, or finished: a redelivered task does nothing
    progress = Progress(job)
    try:
        with holding(job, "run_job"), keep_alive(Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING)):
            counts = _RUNNERS[job.kind](job, progress)
    except JobCancelled:
        progress.stage_done()
        fail_job(job, cancelled=True, timings=progress.timings)
    except ServiceError as exc:  # a rule the work ran into (a rejected table, say): its message says it all
        logger.info("Job %s failed: %s", job_id, exc.message)
        progress.stage_done()
        fail_job(job, error=exc.message, timings=progress.timings)
    except Exception as exc:
        logger.exception("Job %s failed", job_id)
        progress.stage_done()
        fail_job(job, error=f"{type(exc).__name__}: {exc}", timings=progress.timings)
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
    with transaction.atomic():
        if Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.DONE, counts={**job.counts, **counts}, progress=1.0, eta_seconds=0,
            finished_at=timezone.now(), timings={**timings, **({"total": round(total, 3)} if total is not None else {})},
            stage="done",
        ):
            run_lineage.record_end(job, counts={**job.counts, **counts})


def fail_job(job: Job, *, error: str = "", cancelled: bool = False, timings: dict | None = None,
             still: Q | None = None) -> bool:
    """Mark a queued or running job failed (with its error) or cancelled; False if it had ended already.

    still, if given, is a condition the job must still meet (say, silent for long) for this to happen.
    """
    fields = {"status": Job.Status.CANCELLED if cancelled else Job.Status.FAILED, "finished_at": timezone.now()}
    if error:
        fields["error"] = error[:4000]
    if timings is not None:
        fields["timings"] = timings
    live = Job.objects.filter(pk=job.pk, status__in=[Job.Status.RUNNING, Job.Status.QUEUED])
    with transaction.atomic():
        if not (live.filter(still) if still is not None else live).update(**fields):
            return False
        run_lineage.record_end(job, error=error, cancelled=cancelled, failed=not cancelled)
    _ended(job)
    return True


def _ended(job: Job) -> None:
    """Tell the job's kind that it failed or was cancelled, so that it tidies what is its own."""
    ender = _ENDERS.get(job.kind)
    if ender is not None:
        job.refresh_from_db()
        ender(job)


def cancel_job(*, job: Job, user: AbstractBaseUser | None) -> Job:
    """Cancel a queued job, or a running one that no live process is working on, at once; ask a working one to stop.

    A running job between tasks (its next ones waiting in the queue) is cancelled at once too: each task checks
    the job is still running before it starts, and the finish writes nothing for a job that is not.
    """
    now = timezone.now()
    if _cancel_at_once(job, Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED), finished_at=now):
        return job
    holds = list(JobHold.objects.filter(job=job))
    lost = dead_holds(holds)
    if _cancel_at_once(job, Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER),
                       finished_at=now, error="Cancelled; its worker had stopped reporting."):
        return job
    # cancel_requested as well: a runner starting just now (no hold yet) stops at its first checkpoint.
    if len(lost) == len(holds) and _cancel_at_once(job, Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING),
                                                   finished_at=now, cancel_requested=True,
                                                   error="Cancelled; its worker was gone." if lost else ""):
        JobHold.objects.filter(pk__in=[hold.pk for hold in lost]).delete()
        return job
    # The runner stops at its next checkpoint and fails the job as cancelled, writing the run's activity then.
    if not Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(cancel_requested=True):
        raise ServiceError(f"Job #{job.pk} has already finished ({job.status}).")
    job.refresh_from_db()
    return job


def _cancel_at_once(job: Job, jobs: QuerySet[Job], **fields) -> bool:
    """Cancel the job if it is still in `jobs`, writing the activity and OpenLineage ending in the same transaction."""
    with transaction.atomic():
        if not jobs.update(status=Job.Status.CANCELLED, **fields):
            return False
        job.refresh_from_db()
        run_lineage.record_end(job, cancelled=True)
    _ended(job)
    job.refresh_from_db()
    return True

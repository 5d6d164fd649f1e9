#!/usr/bin/env python
"""Kill the Celery worker in the middle of a mastering run, start a new one, and check that Steward recovers.

usage: .venv/bin/python benchmarks/kill_worker.py [--runs 10] [--people 500] [--timeout 60]

Each run starts a mastering job on a real worker (PostgreSQL and Redis), waits until a task of it is running,
kills the worker's whole process group with SIGKILL, starts a new worker, and waits for the old job to be failed
and for a new job to finish. Prints one JSON line:
  kill_worker_runs       runs made
  stuck_jobs             runs where the old job was not failed within --timeout of the kill, or the new job was
                         refused, failed, or unfinished after 10 minutes
  duplicated_entities    source records not in exactly one live entity after the new job (summed over runs)
  missed_kills           runs whose job finished before it could be killed (nothing tested)
  slow_recoveries        runs whose new job finished, but later than --timeout after the kill
  recovery_seconds_max   worst time from the kill to the new job done (median in recovery_seconds_median),
  fail_seconds_max       and from the kill to the old job failed (both include the new worker's start)
  killed_in              the task each run was killed in: runs go round run_job, block_records, score_pairs,
                         finish_master

The database (--database, created afresh) and the queue are the script's own. tests/integration/test_kill_worker.py
runs one round of the same check inside the test suite.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_worker(env: dict[str, str], log: Path, *, name: str, concurrency: int = 2, timeout: float = 90) -> subprocess.Popen:
    """A `celery worker` in a process group of its own (so that it can be killed whole), once it says it is ready."""
    handle = open(log, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "steward", "worker", "--loglevel=INFO", f"--concurrency={concurrency}",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
    )
    handle.close()
    deadline = time.monotonic() + timeout
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            kill_worker(process)
            raise RuntimeError(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def kill_worker(process: subprocess.Popen) -> None:
    """SIGKILL the worker and its pool processes, as a machine or container dying would."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def stop_worker(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        kill_worker(process)


def _wait(predicate: Callable[[], object], timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return None


def duplicated_records(entity_type) -> int:
    """Records of the entity type's sources that are not in exactly one live entity."""
    from django.db.models import Count

    from mastering.mapping import mapped_record_queryset, projection_for
    from mastering.models import Membership

    records = set(mapped_record_queryset(projection_for(entity_type)).values_list("pk", flat=True))
    counted = dict(Membership.objects.filter(entity_type=entity_type, entity__retired_at__isnull=True)
                   .values_list("record").annotate(n=Count("id")).values_list("record", "n"))
    return sum(1 for record in records if counted.get(record, 0) != 1) + len(set(counted) - records)


STAGES = ("run_job", "block_records", "score_pairs", "finish_master")


def kill_and_recover(*, entity_type, start: Callable[[str], subprocess.Popen], runs: int = 1, timeout: float = 60,
                     stages: tuple[str, ...] = STAGES, job_timeout: float = 600) -> dict:
    """Run the kill-and-recover check `runs` times, killing run i in stages[i % len(stages)]; returns the figures.

    Stuck: the old job not failed within `timeout` of the kill, or the new job refused, failed or unfinished after
    `job_timeout`. A new job that succeeds, only later than `timeout` after the kill, counts in slow_recoveries.
    """
    from mastering import services
    from mastering.models import Job, JobHold
    from mastering.services.jobs import JobAlreadyRunning

    live = [Job.Status.QUEUED, Job.Status.RUNNING]
    stuck = duplicated = missed = slow = 0
    recoveries, fails, errors, killed_in = [], [], [], []
    worker = start("kill-0")
    try:
        for run in range(1, runs + 1):
            stage = stages[(run - 1) % len(stages)]
            job = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
            # Mid-run: a task of the wanted stage is running on the worker (each task writes a hold as it starts).
            held = _wait(lambda: JobHold.objects.filter(job=job, task__startswith=stage).values_list("task", flat=True).first()
                         or not Job.objects.filter(pk=job.pk, status__in=live).exists(), job_timeout)
            kill_worker(worker)
            killed_at = time.monotonic()
            if not isinstance(held, str) or not Job.objects.filter(pk=job.pk, status__in=live).exists():
                missed += 1
            else:
                killed_in.append(held)
            worker = start(f"kill-{run}")
            old = _wait(lambda: Job.objects.filter(pk=job.pk).exclude(status__in=live).first(),
                        max(0.0, timeout - (time.monotonic() - killed_at)))
            if old is None:
                stuck += 1
                errors.append(f"run {run}: job {job.pk} still {Job.objects.get(pk=job.pk).status} {timeout}s after the kill")
                services.cancel_job(job=job, user=None)
                continue
            fails.append(time.monotonic() - killed_at)
            try:
                new = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
            except JobAlreadyRunning as exc:
                stuck += 1
                errors.append(f"run {run}: {exc.message}")
                continue
            done = _wait(lambda: Job.objects.filter(pk=new.pk).exclude(status__in=live).first(), job_timeout)
            if done is None or done.status != Job.Status.DONE:
                stuck += 1
                errors.append(f"run {run}: new job {new.pk} " + (f"ended {done.status}: {done.error}" if done else "unfinished"))
                continue
            recoveries.append(time.monotonic() - killed_at)
            slow += recoveries[-1] > timeout
            duplicated += duplicated_records(entity_type)
    finally:
        stop_worker(worker)
    return {
        "kill_worker_runs": runs, "stuck_jobs": stuck, "duplicated_entities": duplicated, "missed_kills": missed,
        "slow_recoveries": slow,
        "recovery_seconds_max": round(max(recoveries), 1) if recoveries else None,
        "recovery_seconds_median": round(statistics.median(recoveries), 1) if recoveries else None,
        "fail_seconds_max": round(max(fails), 1) if fails else None,
        "killed_in": killed_in, "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--people", type=int, default=500, help="people in the synthetic source (half duplicated)")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--database", default="steward_kill_worker")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()

    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnop")
    os.environ.setdefault("STEWARD_HTTPS", "false")
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ["CELERY_BROKER_URL"] = args.broker
    os.environ.setdefault("CELERY_TASK_DEFAULT_QUEUE", f"steward-kill-worker-{os.getpid()}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "steward.settings"
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", args.database], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", args.database], check=True)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command

    from steward.celery import app as celery_app

    call_command("migrate", verbosity=0)
    celery_app.conf.task_always_eager = True  # loading and training happen here, in-process
    from tests.factories import trained_entity_type

    entity_type, _ = trained_entity_type(args.people)
    celery_app.conf.task_always_eager = False
    logs = Path(tempfile.mkdtemp(prefix="kill-worker-"))
    env = {**os.environ}
    result = kill_and_recover(entity_type=entity_type, runs=args.runs, timeout=args.timeout,
                              start=lambda name: start_worker(env, logs / f"{name}.log", name=name))
    print(json.dumps({**result, "people": args.people, "worker_logs": str(logs)}))


if __name__ == "__main__":
    main()

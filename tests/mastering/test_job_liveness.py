"""A job whose worker died is failed (or cancelled) at once, not after 10 minutes of silence."""

import os
import subprocess

import pytest
from django.utils import timezone

from mastering import services
from mastering.models import EntityType, Job, JobHold
from mastering.services import jobs, liveness
from steward.errors import ServiceError

pytestmark = pytest.mark.django_db


@pytest.fixture
def entity_type():
    return EntityType.objects.create(name="Person", slug="person")


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def running_job(entity_type, *, pid: int, host: str | None = None, node: str = "", node_pid: int | None = None) -> Job:
    now = timezone.now()
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.MASTER, status=Job.Status.RUNNING,
                             started_at=now, heartbeat_at=now)
    JobHold.objects.create(job=job, task="score_pairs 3", host=host or liveness.this_host(), pid=pid, node=node,
                           node_pid=node_pid)
    return job


def test_fail_lost_jobs_fails_a_job_whose_process_is_gone_and_frees_its_entity_type(entity_type):
    pid = dead_pid()
    job = running_job(entity_type, pid=pid)
    assert jobs.fail_lost_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at is not None
    assert f"process {pid}) while it ran score_pairs 3" in job.error
    assert not JobHold.objects.exists()
    again = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    assert again.status == Job.Status.QUEUED


def test_fail_lost_jobs_leaves_a_job_whose_process_lives(entity_type):
    job = running_job(entity_type, pid=os.getpid())
    assert jobs.fail_lost_jobs() == []
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and JobHold.objects.count() == 1


def test_a_pool_process_whose_worker_main_process_died_counts_as_lost(entity_type):
    job = running_job(entity_type, pid=os.getpid(), node="w1@host", node_pid=dead_pid())
    assert jobs.fail_lost_jobs() == [job.pk]


def test_start_job_replaces_a_job_whose_worker_died_at_once_and_refuses_while_it_lives(entity_type):
    live = running_job(entity_type, pid=os.getpid())
    with pytest.raises(jobs.JobAlreadyRunning):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    JobHold.objects.filter(job=live).update(pid=dead_pid())
    new = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    live.refresh_from_db()
    assert live.status == Job.Status.FAILED and new.status == Job.Status.QUEUED


def test_cancel_job_whose_worker_died_cancels_it_at_once(entity_type):
    job = running_job(entity_type, pid=dead_pid())
    cancelled = services.cancel_job(job=job, user=None)
    assert cancelled.status == Job.Status.CANCELLED and cancelled.error == "Cancelled; its worker was gone."
    assert not JobHold.objects.exists()
    assert services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER).status == Job.Status.QUEUED


def test_cancel_job_held_by_a_live_process_asks_it_to_stop(entity_type):
    job = running_job(entity_type, pid=os.getpid())
    asked = services.cancel_job(job=job, user=None)
    assert asked.status == Job.Status.RUNNING and asked.cancel_requested
    with pytest.raises(ServiceError):
        services.cancel_job(job=Job.objects.create(entity_type=entity_type, kind=Job.Kind.GOLDEN, status=Job.Status.DONE),
                            user=None)


def test_cancel_job_between_tasks_cancels_it_at_once(entity_type):
    job = running_job(entity_type, pid=os.getpid())
    JobHold.objects.all().delete()  # its next tasks wait in the queue; nobody works on it now
    cancelled = services.cancel_job(job=job, user=None)
    assert cancelled.status == Job.Status.CANCELLED and cancelled.cancel_requested


def test_holds_on_other_hosts_are_judged_by_the_workers_answering_the_broker(entity_type, monkeypatch):
    gone = running_job(entity_type, pid=12, host="other-host", node="w2@other-host", node_pid=10)
    other_type = EntityType.objects.create(name="Place", slug="place")
    alive = running_job(other_type, pid=13, host="other-host", node="w1@other-host", node_pid=11)
    monkeypatch.setattr(liveness, "live_nodes", lambda: {("w1@other-host", 11)})
    assert jobs.fail_lost_jobs() == [gone.pk]
    monkeypatch.setattr(liveness, "live_nodes", lambda: None)  # no broker, or nobody answered: no evidence
    JobHold.objects.create(job=alive, task="finish_master", host="other-host", pid=14, node="w3@other-host", node_pid=9)
    assert jobs.fail_lost_jobs() == []
    alive.refresh_from_db()
    assert alive.status == Job.Status.RUNNING


def test_a_job_is_held_while_it_runs_and_released_after(entity_type, monkeypatch):
    seen = []

    def runner(job, progress):
        seen.extend(JobHold.objects.filter(job=job).values_list("task", "pid", "host"))
        return {"ok": 1}

    monkeypatch.setitem(jobs._RUNNERS, Job.Kind.GOLDEN, runner)
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.GOLDEN)
    done = jobs.run_job(job_id=job.pk)
    assert done.status == Job.Status.DONE
    assert seen == [("run_job", os.getpid(), liveness.this_host())]
    assert not JobHold.objects.exists()

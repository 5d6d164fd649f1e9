"""Housekeeping runs as periodic Celery tasks on beat's schedule, never inside a request."""

import os
import time

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from mastering import tasks
from mastering.models import Job
from mastering.services.ingest import upload_folder
from mastering.services.liveness import STALE_AFTER
from steward.celery import app
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


def test_beat_schedules_the_job_sweep_every_minute_and_the_upload_clean_up_hourly():
    schedule = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}
    assert schedule == {tasks.sweep_jobs.name: 60.0, tasks.remove_abandoned_uploads.name: 3600.0}
    assert {tasks.sweep_jobs.name, tasks.remove_abandoned_uploads.name} <= set(app.tasks)


@pytest.mark.django_db(transaction=True)  # the scheduler closes the database connection as it sets up
def test_the_database_scheduler_stores_the_schedule_where_admins_can_see_it():
    assert app.conf.beat_scheduler == settings.CELERY_BEAT_SCHEDULER
    DatabaseScheduler(app=app).setup_schedule()
    stored = {task.name: task.task for task in PeriodicTask.objects.filter(enabled=True)}
    assert stored["sweep-jobs"] == "mastering.tasks.sweep_jobs"
    assert stored["remove-abandoned-uploads"] == "mastering.tasks.remove_abandoned_uploads"


def test_sweep_jobs_fails_a_silent_job_of_any_kind():
    silent = timezone.now() - STALE_AFTER * 2
    job = Job.objects.create(kind=Job.Kind.INGEST, source=source_with_fields("notes"), status=Job.Status.RUNNING,
                             heartbeat_at=silent, started_at=silent)
    assert tasks.sweep_jobs.apply().get() == {"lost": [], "stale": [job.pk]}
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "stopped reporting" in job.error


def test_remove_abandoned_uploads_keeps_those_of_the_last_day():
    old, recent = upload_folder() / "old.upload", upload_folder() / "recent.upload"
    old.write_text("id\n1\n"), recent.write_text("id\n1\n")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    assert tasks.remove_abandoned_uploads.apply().get() == 1
    assert not old.exists() and recent.exists()
    recent.unlink()

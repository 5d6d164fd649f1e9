"""An ingest is a job on a real worker and PostgreSQL: cancelled mid-table it writes nothing; a killed worker's
ingest is failed by the next worker to start (its hold names a dead process), and writes nothing either."""

import io
import os

import pytest
from django.conf import settings
from django.db import transaction

from benchmarks.kill_worker import kill_worker, start_worker, stop_worker
from mastering import services
from mastering.models import IngestBatch, Job, JobHold, SourceRecord
from tests.factories import source_with_fields
from tests.integration.conftest import _database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 1_000_000  # twenty chunks: far more than the time a cancel needs to arrive


def send_in_background(user) -> IngestBatch:
    source = source_with_fields("people", key="id", id="integer", name="string")
    table = "id,name\n" + "".join(f"{i},Person {i}\n" for i in range(ROWS))
    with transaction.atomic():
        return services.receive_table(source=source, stream=io.BytesIO(table.encode()), file_name="people.csv",
                                      user=user, channel=IngestBatch.Channel.API, background=True)


def reading(batch: IngestBatch) -> IngestBatch | None:
    """The batch once its worker has reported rows read (seen from outside its transaction)."""
    return IngestBatch.objects.filter(pk=batch.pk, status=IngestBatch.Status.RUNNING, rows_read__gt=0).first()


def test_cancelling_a_running_ingest_over_the_api_writes_nothing(celery_worker_process, engineer, api_for, steward):
    batch = send_in_background(engineer)
    wait_for(lambda: reading(batch), message="the worker to report its first rows")
    job = api_for(steward).get(f"/api/jobs/{batch.job_id}/").json()
    assert (job["kind"], job["status"], job["batch"]) == ("ingest", "running", batch.pk) and job["progress"] > 0

    answer = api_for(steward).post(f"/api/jobs/{batch.job_id}/cancel/")
    assert answer.status_code == 200 and answer.json()["cancel_requested"] is True
    ended = wait_for(lambda: IngestBatch.objects.filter(pk=batch.pk).exclude(status__in=["queued", "running"]).first(),
                     message="the worker to stop the batch")
    assert ended.status == IngestBatch.Status.CANCELLED, ended.error
    assert Job.objects.get(pk=batch.job_id).status == Job.Status.CANCELLED
    assert not SourceRecord.objects.exists()


def test_a_killed_workers_ingest_is_failed_by_the_next_worker_and_writes_nothing(django_db_setup, engineer, tmp_path):
    if not settings.CELERY_BROKER_URL or not _database_url():
        pytest.skip("needs a real broker and PostgreSQL (see .ci/run).")
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "steward.settings",
           "STEWARD_DATA_DIR": str(settings.DATA_DIR)}
    first = start_worker(env, tmp_path / "first.log", name=f"first-{os.getpid()}")
    try:
        batch = send_in_background(engineer)
        wait_for(lambda: reading(batch) and JobHold.objects.filter(job_id=batch.job_id).exists(),
                 message="the worker to hold the ingest")
    finally:
        kill_worker(first)
    second = start_worker(env, tmp_path / "second.log", name=f"second-{os.getpid()}")
    try:
        job = wait_for(lambda: Job.objects.filter(pk=batch.job_id, status=Job.Status.FAILED).first(),
                       timeout=30, message="the next worker to fail the lost ingest")
    finally:
        stop_worker(second)
    assert "Its worker was lost" in job.error and not JobHold.objects.filter(job=job).exists()
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.FAILED and "None of its rows were written" in batch.error
    assert not SourceRecord.objects.exists()

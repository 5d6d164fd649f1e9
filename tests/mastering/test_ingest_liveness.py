"""An ingest's job carries its heartbeat; the sweep (beat, or a job starting) fails a dead one and says so on its batch."""

import io
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from mastering import services, tasks
from mastering.models import IngestBatch, Job
from mastering.services import liveness
from mastering.services.ingest import running
from mastering.services.liveness import STALE_AFTER, keep_alive
from tests.factories import IngestBatchFactory, source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes():
    return source_with_fields("notes", key="id", id="string", note="string")


def running_batch(source, *, silent_for, upload_path: str = "") -> IngestBatch:
    beat = timezone.now() - silent_for
    job = Job.objects.create(kind=Job.Kind.INGEST, source=source, status=Job.Status.RUNNING, started_at=beat,
                             heartbeat_at=beat)
    return IngestBatchFactory(source=source, status=IngestBatch.Status.RUNNING, started_at=beat, job=job,
                              upload_path=upload_path, rows_read=1000)


def send(source, text: str) -> IngestBatch:
    return services.receive_table(source=source, stream=io.BytesIO(text.encode()), file_name="t.csv", user=None,
                                  channel=IngestBatch.Channel.API, background=False)


def test_the_sweep_fails_a_dead_ingest_and_its_batch_and_removes_its_upload(notes, tmp_path):
    upload = tmp_path / "left-behind.upload"
    upload.write_text("id,note\n1,x\n")
    dead = running_batch(notes, silent_for=STALE_AFTER * 2, upload_path=str(upload))
    alive = running_batch(notes, silent_for=STALE_AFTER / 2)

    assert tasks.sweep_jobs.apply().get() == {"lost": [], "stale": [dead.job_id]}

    dead.refresh_from_db(), alive.refresh_from_db()
    assert dead.status == IngestBatch.Status.FAILED and dead.finished_at is not None
    assert "stopped" in dead.error and "None of its rows were written" in dead.error
    assert not upload.exists() and dead.upload_path == ""
    assert Job.objects.get(pk=dead.job_id).status == Job.Status.FAILED
    assert alive.status == IngestBatch.Status.RUNNING  # slow is not dead
    assert Job.objects.get(pk=alive.job_id).status == Job.Status.RUNNING


def test_with_no_broker_the_next_job_to_start_sweeps(notes, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the embedded default: no broker, so no beat
    dead = running_batch(source_with_fields("other"), silent_for=STALE_AFTER * 2)
    assert send(notes, "id,note\n1,hello\n").status == IngestBatch.Status.SUCCEEDED
    dead.refresh_from_db()
    assert dead.status == IngestBatch.Status.FAILED


def test_with_a_broker_starting_an_ingest_leaves_the_sweep_to_beat(notes, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    dead = running_batch(source_with_fields("other"), silent_for=STALE_AFTER * 2)
    assert send(notes, "id,note\n1,hello\n").status == IngestBatch.Status.SUCCEEDED
    dead.refresh_from_db()
    assert dead.status == IngestBatch.Status.RUNNING


def test_showing_a_dead_batch_changes_nothing_until_the_sweep(notes, client_for, api_for, steward):
    dead = running_batch(notes, silent_for=STALE_AFTER * 2)
    page = client_for(steward).get(reverse("mastering:batch-detail", args=[notes.slug, dead.pk]))
    assert page.status_code == 200
    assert api_for(steward).get(f"/api/batches/{dead.pk}/").json()["status"] == "running"
    services.sweep_jobs()
    body = api_for(steward).get(f"/api/batches/{dead.pk}/").json()
    assert body["status"] == "failed" and body["job"] == dead.job_id
    assert "stopped" in client_for(steward).get(reverse("mastering:batch-detail", args=[notes.slug, dead.pk])).content.decode()


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it must see the row
def test_a_running_ingest_stamps_its_jobs_heartbeat_while_it_works(notes, monkeypatch):
    monkeypatch.setattr(liveness, "HEARTBEAT_EVERY", 0.02)
    real_ingest = running._ingest

    def slow_ingest(batch, path, progress):
        time.sleep(0.3)
        return real_ingest(batch, path, progress)

    monkeypatch.setattr(running, "_ingest", slow_ingest)
    batch = send(notes, "id,note\n1,hello\n")
    assert batch.status == IngestBatch.Status.SUCCEEDED
    job = Job.objects.get(pk=batch.job_id)
    assert job.status == Job.Status.DONE and job.kind == Job.Kind.INGEST
    assert (job.heartbeat_at - job.started_at).total_seconds() >= 0.2  # stamped while it worked, not only at start


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it must see the row
def test_keep_alive_keeps_an_ingest_from_the_sweep(notes):
    batch = running_batch(notes, silent_for=STALE_AFTER * 2)
    job = Job.objects.get(pk=batch.job_id)
    with keep_alive(Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING), every=0.05):
        deadline = time.monotonic() + 5
        while Job.objects.get(pk=job.pk).heartbeat_at == job.heartbeat_at and time.monotonic() < deadline:
            time.sleep(0.02)
    assert Job.objects.get(pk=job.pk).heartbeat_at > job.heartbeat_at + STALE_AFTER  # stamped now, not merely touched
    services.sweep_jobs()
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.RUNNING


def test_a_database_too_busy_for_the_sweep_leaves_it_for_the_next(notes, monkeypatch):
    from django.db import DatabaseError
    from django.db.models import QuerySet

    dead = running_batch(notes, silent_for=STALE_AFTER * 2)

    def busy(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(QuerySet, "update", busy)
    assert services.sweep_jobs() == {"lost": [], "stale": []}
    monkeypatch.undo()
    assert services.sweep_jobs()["stale"] == [dead.job_id]


def test_a_finished_batch_has_no_progress_or_time_left(notes):
    done = IngestBatchFactory(source=notes, rows_read=90, rows_expected=100,
                              started_at=timezone.now() - timezone.timedelta(days=3))
    assert done.progress is None and done.eta_seconds is None

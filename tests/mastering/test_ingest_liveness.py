"""A batch whose worker died reads as failed, not running forever; a live one keeps saying so."""

import io
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from mastering import services
from mastering.models import IngestBatch
from mastering.services import ingest as ingest_service, liveness
from mastering.services.liveness import STALE_AFTER, keep_alive
from tests.factories import IngestBatchFactory, source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes():
    return source_with_fields("notes", key="id", id="string", note="string")


def running_batch(source, *, silent_for, upload_path: str = "") -> IngestBatch:
    beat = timezone.now() - silent_for
    return IngestBatchFactory(source=source, status=IngestBatch.Status.RUNNING, started_at=beat, heartbeat_at=beat,
                              upload_path=upload_path, rows_read=1000)


def send(source, text: str) -> IngestBatch:
    return services.receive_table(source=source, stream=io.BytesIO(text.encode()), file_name="t.csv", user=None,
                                  channel=IngestBatch.Channel.API, background=False)


def test_the_next_batch_for_the_source_marks_a_dead_one_failed_and_removes_its_upload(notes, tmp_path):
    upload = tmp_path / "left-behind.upload"
    upload.write_text("id,note\n1,x\n")
    dead = running_batch(notes, silent_for=STALE_AFTER * 2, upload_path=str(upload))
    alive = running_batch(notes, silent_for=STALE_AFTER / 2)
    other_source = running_batch(source_with_fields("other"), silent_for=STALE_AFTER * 2)

    assert send(notes, "id,note\n1,hello\n").status == IngestBatch.Status.SUCCEEDED

    dead.refresh_from_db(), alive.refresh_from_db(), other_source.refresh_from_db()
    assert dead.status == IngestBatch.Status.FAILED and dead.finished_at is not None
    assert "stopped" in dead.error and "none of its rows were written" in dead.error
    assert not upload.exists() and dead.upload_path == ""
    assert alive.status == IngestBatch.Status.RUNNING  # slow is not dead
    assert other_source.status == IngestBatch.Status.RUNNING  # only this source's batches were looked at


def test_a_dead_batch_shows_as_failed_on_its_page_and_over_the_api(notes, client_for, api_for, steward):
    dead = running_batch(notes, silent_for=STALE_AFTER * 2)
    page = client_for(steward).get(reverse("mastering:batch-detail", args=[notes.slug, dead.pk]))
    assert page.status_code == 200 and "stopped" in page.content.decode()

    again = running_batch(notes, silent_for=STALE_AFTER * 3)
    listed = api_for(steward).get(f"/api/sources/{notes.slug}/batches/").json()["results"]
    assert {row["id"]: row["status"] for row in listed}[again.pk] == "failed"


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it must see the row
def test_a_running_batch_stamps_its_heartbeat_while_it_works(notes, monkeypatch):
    monkeypatch.setattr(liveness, "HEARTBEAT_EVERY", 0.02)
    real_ingest = ingest_service._ingest

    def slow_ingest(batch, path):
        time.sleep(0.3)
        real_ingest(batch, path)

    monkeypatch.setattr(ingest_service, "_ingest", slow_ingest)
    batch = send(notes, "id,note\n1,hello\n")
    assert batch.status == IngestBatch.Status.SUCCEEDED
    assert (batch.heartbeat_at - batch.started_at).total_seconds() >= 0.2  # stamped while it worked, not only at start


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it must see the row
def test_keep_alive_stamps_the_heartbeat_while_the_work_runs(notes):
    batch = running_batch(notes, silent_for=STALE_AFTER * 2)
    before = batch.heartbeat_at
    with keep_alive(IngestBatch.objects.filter(pk=batch.pk, status=IngestBatch.Status.RUNNING), every=0.05):
        deadline = time.monotonic() + 5
        while IngestBatch.objects.get(pk=batch.pk).heartbeat_at == before and time.monotonic() < deadline:
            time.sleep(0.02)
    batch.refresh_from_db()
    assert batch.heartbeat_at > before + STALE_AFTER  # stamped now, not merely touched
    services.fail_dead_batches()
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.RUNNING


def test_a_dead_batch_reads_as_failed_on_its_own_api_address(notes, api_for, steward):
    dead = running_batch(notes, silent_for=STALE_AFTER * 2)
    assert api_for(steward).get(f"/api/batches/{dead.pk}/").json()["status"] == "failed"


def test_the_batch_page_looks_only_at_its_own_source(notes, client_for, steward):
    other = source_with_fields("other")
    dead_elsewhere = running_batch(other, silent_for=STALE_AFTER * 2)
    shown = IngestBatchFactory(source=notes)
    client_for(steward).get(reverse("mastering:batch-detail", args=[notes.slug, shown.pk]))
    dead_elsewhere.refresh_from_db()
    assert dead_elsewhere.status == IngestBatch.Status.RUNNING


def test_batches_from_before_heartbeats_get_a_day(notes):
    def unstamped(hours_ago: float) -> IngestBatch:
        return IngestBatchFactory(source=notes, status=IngestBatch.Status.RUNNING, heartbeat_at=None,
                                  started_at=timezone.now() - timezone.timedelta(hours=hours_ago))

    recent, old = unstamped(hours_ago=2), unstamped(hours_ago=30)
    assert services.fail_dead_batches(source=notes) == 1
    recent.refresh_from_db(), old.refresh_from_db()
    assert (recent.status, old.status) == (IngestBatch.Status.RUNNING, IngestBatch.Status.FAILED)


def test_a_database_too_busy_for_the_sweep_does_not_break_the_page(notes, client_for, steward, monkeypatch):
    from django.db import DatabaseError
    from django.db.models import QuerySet

    dead = running_batch(notes, silent_for=STALE_AFTER * 2)

    def busy(*args, **kwargs):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(QuerySet, "update", busy)
    assert services.fail_dead_batches(source=notes) == 0
    monkeypatch.undo()
    response = client_for(steward).get(reverse("mastering:batch-detail", args=[notes.slug, dead.pk]))
    assert response.status_code == 200


def test_a_finished_batch_has_no_progress_or_time_left(notes):
    done = IngestBatchFactory(source=notes, rows_read=90, rows_expected=100,
                              started_at=timezone.now() - timezone.timedelta(days=3))
    assert done.progress is None and done.eta_seconds is None

"""An ingest is a job: on the jobs page and API with its progress, cancellable there, and nothing of it written then."""

import io

import pytest
from django.db import connection
from django.urls import reverse

from lineage.models import Activity
from mastering import services
from mastering.models import IngestBatch, Job, SourceRecord
from mastering.services.ingest import checking as ingest_checking, running
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db

# On PostgreSQL an ingest reports and looks for a cancel on a connection of its own, which cannot see this test's
# uncommitted rows, and a request made from inside it would wait on its COPY. There, a real worker and real
# requests do it: tests/integration/test_ingest_on_worker.py.
in_process = pytest.mark.skipif(connection.vendor == "postgresql", reason="in-process mid-ingest requests: SQLite only")

TABLE = "id,note\n" + "".join(f"{i},note {i}\n" for i in range(12))  # four chunks of three rows


@pytest.fixture
def notes():
    return source_with_fields("notes", key="id", id="string", note="string")


def send(source, text: str = TABLE, **options) -> IngestBatch:
    return services.receive_table(source=source, stream=io.BytesIO(text.encode()), file_name="t.csv", user=None,
                                  channel=IngestBatch.Channel.API, background=False, **options)


def after_the_first_chunk(monkeypatch, action) -> list:
    """Run action(batch) once, when the first chunk has been read and reported; its result goes into the list."""
    monkeypatch.setattr(ingest_checking, "CHUNK_ROWS", 3)
    real_reporter, results = running._reporter, []

    def reporter(batch, progress):
        report = real_reporter(batch, progress)

        def report_then_act(rows_read: int) -> None:
            report(rows_read)
            if not results:
                results.append(action(batch))

        return report_then_act

    monkeypatch.setattr(running, "_reporter", reporter)
    return results


def assert_cancelled_and_nothing_written(batch: IngestBatch) -> None:
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.CANCELLED and "None of its rows were written" in batch.error
    assert Job.objects.get(pk=batch.job_id).status == Job.Status.CANCELLED
    assert not SourceRecord.objects.exists()
    # The one ingest activity is the cancel itself (with the run's OpenLineage ABORT), not a written batch.
    assert [a.parameters["status"] for a in Activity.objects.filter(kind=Activity.Kind.INGEST)] == ["cancelled"]


@in_process
def test_an_ingest_shows_on_the_jobs_page_and_api_with_its_progress(notes, monkeypatch, client_for, api_for, steward):
    def look(batch):
        return (client_for(steward).get(reverse("mastering:job-list")).content.decode(),
                api_for(steward).get(f"/api/jobs/{batch.job_id}/").json())

    seen = after_the_first_chunk(monkeypatch, look)
    batch = send(notes)
    page, body = seen[0]
    assert "Ingest a table" in page and f"{notes.name} batch {batch.pk}" in page and 'value="0.250"' in page
    assert (body["kind"], body["status"], body["source"], body["batch"]) == ("ingest", "running", "notes", batch.pk)
    assert body["progress"] == 0.25 and body["counts"] == {"rows_read": 3} and body["entity_type"] is None

    job = Job.objects.get(pk=batch.job_id)
    assert job.status == Job.Status.DONE and job.progress == 1.0
    assert job.counts["created"] == 12 and job.counts["rows_read"] == 12
    assert api_for(steward).get(f"/api/batches/{batch.pk}/").json()["job"] == job.pk
    detail = client_for(steward).get(job.get_absolute_url()).content.decode()
    assert batch.get_absolute_url() in detail


@in_process
@pytest.mark.parametrize("partial", [False, True])
def test_cancelling_a_running_ingest_over_the_api_writes_nothing(notes, monkeypatch, api_for, steward, partial):
    answers = after_the_first_chunk(
        monkeypatch, lambda batch: api_for(steward).post(f"/api/jobs/{batch.job_id}/cancel/"))
    batch = send(notes, partial=partial)
    assert answers[0].status_code == 200 and answers[0].json()["cancel_requested"] is True
    assert_cancelled_and_nothing_written(batch)


@in_process
def test_cancelling_a_running_ingest_from_the_jobs_page_writes_nothing(notes, monkeypatch, client_for, steward):
    answers = after_the_first_chunk(
        monkeypatch, lambda batch: client_for(steward).post(reverse("mastering:job-cancel", args=[batch.job_id])))
    batch = send(notes)
    assert answers[0].status_code == 302
    assert_cancelled_and_nothing_written(batch)


@in_process
def test_a_cancel_while_the_rows_are_being_written_rolls_them_back(notes, monkeypatch):
    real_lock = running.lock_source

    def lock_then_cancel(source, **kwargs):
        real_lock(source, **kwargs)  # inside the batch's transaction, before any row is written
        services.cancel_job(job=Job.objects.get(source=source, status=Job.Status.RUNNING), user=None)

    monkeypatch.setattr(running, "lock_source", lock_then_cancel)
    assert_cancelled_and_nothing_written(send(notes))


def test_a_queued_ingest_is_cancelled_at_once_and_its_upload_removed(notes, api_for, steward):
    batch = services.receive_table(source=notes, stream=io.BytesIO(TABLE.encode()), file_name="t.csv", user=None,
                                   channel=IngestBatch.Channel.API, background=True)  # its task waits for the commit
    upload = batch.upload_path
    body = api_for(steward).post(f"/api/jobs/{batch.job_id}/cancel/").json()
    assert body["status"] == "cancelled"
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.CANCELLED and batch.upload_path == ""
    assert not __import__("pathlib").Path(upload).exists()
    services.run_ingest(batch_id=batch.pk)  # its task arriving after all does nothing
    assert_cancelled_and_nothing_written(batch)


def test_a_rejected_table_fails_its_job_with_the_reason(notes):
    batch = send(notes, "id,note\n1,a\n,b\n")
    assert batch.status == IngestBatch.Status.REJECTED
    job = Job.objects.get(pk=batch.job_id)
    assert job.status == Job.Status.FAILED and job.error.startswith("The table was rejected: 1 problem in 1 row;")

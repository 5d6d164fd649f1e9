"""What the writers store: JSON built in Arrow, sightings instead of rewrites, and progress seen from outside."""

import io
import json

import pyarrow as pa
import pytest
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from mastering import selectors, services
from mastering.ingest.copying import copy_text
from mastering.ingest.documents import json_texts, record_json
from mastering.models import BatchSighting, IngestBatch, Job, SourceRecord
from mastering.services.progress import Progress
from mastering.services.ingest import checking as ingest_checking
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db

TRICKY = ['say "hi"', "back\\slash", "two\nlines", "tab\there", "bell\x07", "Zoë 😀", "{json: [1]}", "a,b;c|d"]


def send(source, text: str, **options) -> IngestBatch:
    return services.receive_table(source=source, stream=io.BytesIO(text.encode()), file_name="t.csv", user=None,
                                  channel=IngestBatch.Channel.API, background=False, **options)


@pytest.fixture
def notes():
    return source_with_fields("notes", key="id", id="string", note="string", count="integer", ok="boolean")


def test_json_texts_equal_the_documents_python_would_store():
    values = pa.table({"id": ["1", "2", "3"], "note": [TRICKY[0], None, "".join(TRICKY)],
                       'odd "name"\\': ["x", "y", None], "count": ["5", None, "-12"], "ok": ["true", None, "false"]})
    types = {"count": "integer", "ok": "boolean"}
    for text, row in zip(json_texts(values, types).to_pylist(), values.to_pylist()):
        assert json.loads(text) == record_json(row, types)


def test_copy_text_escapes_text_of_every_arrow_kind():
    text = ["\\N", "tab\there", None]
    table = pa.table({"plain": pa.array(text), "large": pa.array(text, pa.large_string()),
                      "coded": pa.array(text).dictionary_encode(), "number": [1, None, 3], "flag": [True, False, None]})
    assert bytes(copy_text(table)).decode().splitlines() == [
        "\\\\N\t\\\\N\t\\\\N\t1\tt",  # the text \N stays text; only a missing value is \N
        "tab\\there\ttab\\there\ttab\\there\t\\N\tf",
        "\\N\t\\N\t\\N\t3\t\\N",
    ]


def test_values_with_quotes_newlines_and_control_characters_are_stored_exactly(notes, monkeypatch):
    monkeypatch.setattr(ingest_checking, "CHUNK_ROWS", 3)
    lines = ["id,note,count,ok"] + [f'{i},"{value.replace(chr(34), chr(34) * 2)}",{i},yes' for i, value in enumerate(TRICKY)]
    batch = send(notes, "\n".join(lines) + "\n")
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    stored = {record.key: record.data for record in SourceRecord.objects.all()}
    assert stored == {str(i): {"id": str(i), "note": value, "count": i, "ok": True} for i, value in enumerate(TRICKY)}
    # The second load goes through the other writer path (lookup, then update): same documents, all unchanged.
    again = send(notes, "\n".join(lines) + "\n")
    assert again.unchanged == len(TRICKY)


def test_keys_with_quotes_backslashes_and_tabs_survive_first_load_and_update(notes):
    keys = ['k "1"', "back\\slash", "tab\there", "Zoë 😀", "\\N"]
    def table(note: str) -> str:
        rows = [f'"{key.replace(chr(34), chr(34) * 2)}","{note}\\{index}",{index},no' for index, key in enumerate(keys)]
        return "\n".join(["id,note,count,ok"] + rows) + "\n"

    before = timezone.now()
    assert send(notes, table("first")).created == len(keys)
    times = set(SourceRecord.objects.values_list("created_at", "updated_at"))
    assert len(times) == 1 and before <= min(times.pop()) <= timezone.now()  # the database's default, one per batch
    updated = send(notes, table("second\ttab"))
    assert updated.updated == len(keys), updated.problems
    stored = {record.key: (record.data, record.version) for record in SourceRecord.objects.all()}
    assert stored == {key: ({"id": key, "note": f"second\ttab\\{index}", "count": index, "ok": False}, 2)
                      for index, key in enumerate(keys)}


def test_unchanged_rows_are_recorded_as_runs_of_sightings_not_rewritten(notes):
    rows = "".join(f"{i},note {i},{i},yes\n" for i in range(10))
    first = send(notes, "id,note,count,ok\n" + rows)
    written = dict(SourceRecord.objects.values_list("key", "updated_at"))
    again = send(notes, "id,note,count,ok\n" + rows.replace("note 4,", "note four,"))
    assert (again.unchanged, again.updated) == (9, 1)
    assert dict(SourceRecord.objects.exclude(key="4").values_list("key", "updated_at")) == {
        key: at for key, at in written.items() if key != "4"}
    four = SourceRecord.objects.get(key="4").pk
    runs = sorted(BatchSighting.objects.filter(batch=again).values_list("first_record_id", "last_record_id"))
    ids = sorted(SourceRecord.objects.exclude(pk=four).values_list("pk", flat=True))
    assert [pk for first_id, last_id in runs for pk in range(first_id, last_id + 1)] == ids
    assert len(runs) == 2  # the changed record splits the run
    assert {selectors.last_seen_batch(record=record) for record in SourceRecord.objects.all()} == {again}
    assert first.pk != again.pk


def test_a_retired_record_was_last_sent_by_the_batch_before_the_snapshot_that_retired_it(notes, client_for,
                                                                                       business_user):
    first = send(notes, "id,note\n1,a\n2,b\n")
    seen = send(notes, "id,note\n1,a\n2,b\n")
    send(notes, "id,note\n1,a\n", mode=IngestBatch.Mode.SNAPSHOT)
    two = SourceRecord.objects.get(key="2")
    assert two.retired
    assert selectors.last_seen_batch(record=two) == seen != first
    page = client_for(business_user).get(reverse("mastering:record-detail", args=["notes", "2"])).content.decode()
    assert f"batch {seen.pk}</a>" in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: there the write runs in one long transaction")
def test_progress_shows_outside_the_batch_transaction(notes):
    # The ingest job reports on a connection of its own: rows read on the batch, progress on the job.
    job = Job.objects.create(kind=Job.Kind.INGEST, source=notes, status=Job.Status.RUNNING)
    batch = IngestBatch.objects.create(source=notes, channel=IngestBatch.Channel.API, job=job)
    progress = Progress(job)
    observer = connections.create_connection("default")
    try:
        with progress.outside_transaction(), transaction.atomic():
            progress.write(IngestBatch, batch.pk, rows_read=1234)
            progress.update(0.5, rows_read=1234)
            with observer.cursor() as cursor:
                cursor.execute("SELECT rows_read FROM mastering_ingestbatch WHERE id = %s", [batch.pk])
                assert cursor.fetchone()[0] == 1234
                cursor.execute("SELECT progress, counts FROM mastering_job WHERE id = %s", [job.pk])
                fraction, counts = cursor.fetchone()
                counts = json.loads(counts) if isinstance(counts, str) else counts
                assert (fraction, counts) == (0.5, {"rows_read": 1234})
    finally:
        observer.close()


@pytest.mark.parametrize("blank_line", [False, True])
def test_a_ragged_row_late_in_the_file_is_numbered_exactly_and_no_row_is_read_twice(notes, monkeypatch, blank_line):
    # The quick read hands out two chunks before it meets row 9; the exact scan then carries on from there.
    monkeypatch.setattr(ingest_checking, "CHUNK_ROWS", 3)
    lines = [f'{i},"note {i}, with a comma",{i},yes' for i in range(12)]
    lines[7] = "7,too,many,fields,here"
    if blank_line:
        lines.insert(3, "")
    batch = send(notes, "id,note,count,ok\n" + "\n".join(lines) + "\n", partial=True)
    assert batch.status == IngestBatch.Status.SUCCEEDED
    assert [(p["row"], p["reason"]) for p in batch.problems] == [
        (10 if blank_line else 9, "has 5 fields where the header has 4")]
    assert (batch.received, batch.created, batch.rejected) == (12, 11, 1)
    assert sorted(SourceRecord.objects.values_list("key", flat=True), key=int) == [str(i) for i in range(12) if i != 7]

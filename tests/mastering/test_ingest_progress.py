"""Progress of a batch: rows expected from the file's lines, shown as a share and a time left."""

import io
from datetime import timedelta
from unittest import mock
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from mastering import services
from mastering.ingest.parsing import inspect_file
from mastering.models import IngestBatch
from tests.factories import IngestBatchFactory, source_with_fields

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("t.csv", b"id,name\n1,a\n2,b\n", 2),
    ("t.csv", b"id,name\r\n1,a\r\n2,b", 2),  # CRLF, and no line break after the last row
    ("t.csv", b"id,name\r1,a\r2,b\r3,c\r", 3),  # old Mac line ends
    ("t.jsonl", b'{"id": 1}\n{"id": 2}\n{"id": 3}\n', 3),
    ("t.json", b'[{"id": 1},\n{"id": 2}]', None),  # lines say nothing about an array's items
])
def test_rows_expected_come_from_the_lines(tmp_path: Path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    assert inspect_file(path, name).expected_rows == expected


def test_a_batch_records_how_many_rows_it_expected():
    source = source_with_fields("notes", key="id", id="string", note="string")
    batch = services.receive_table(source=source, stream=io.BytesIO(b"id,note\n1,a\n2,b\n3,c\n"), file_name="t.csv",
                                   user=None, channel=IngestBatch.Channel.API, background=False)
    assert batch.rows_expected == 3 and batch.rows_read == 3


def test_a_running_batch_shows_its_share_and_time_left(client_for, api_for, steward):
    source = source_with_fields("notes", key="id", id="string")
    now = timezone.now()
    batch = IngestBatchFactory(source=source, status=IngestBatch.Status.RUNNING, rows_read=250_000, rows_expected=1_000_000,
                               started_at=now - timedelta(seconds=10))
    # The clock stands still for the estimate, so a slow machine cannot add seconds to "time left".
    with mock.patch("mastering.models.sources.timezone.now", return_value=now):
        html = client_for(steward).get(reverse("mastering:batch-detail", args=[source.slug, batch.pk])).content.decode()
        body = api_for(steward).get(f"/api/batches/{batch.pk}/").json()
    assert "250000 of about 1000000 rows read" in html and "25%" in html
    assert "about 30 s left" in html  # a quarter in 10 s: three quarters in 30
    assert body["progress"] == 0.25 and body["eta_seconds"] == 30 and body["rows_expected"] == 1_000_000
    listed = client_for(steward).get(reverse("mastering:batch-list", args=[source.slug])).content.decode()
    assert "250000 rows read (25%)" in listed


def test_a_batch_that_has_read_every_row_says_it_is_writing(client_for, steward):
    source = source_with_fields("notes", key="id", id="string")
    batch = IngestBatchFactory(source=source, status=IngestBatch.Status.RUNNING, rows_read=1000, rows_expected=1000,
                               started_at=timezone.now() - timedelta(seconds=10))
    html = client_for(steward).get(reverse("mastering:batch-detail", args=[source.slug, batch.pk])).content.decode()
    assert "All 1000 rows read; writing them" in html and "s left" not in html

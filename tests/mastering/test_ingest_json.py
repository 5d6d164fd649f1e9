"""JSON tables are read as a stream: numbered across chunks, in any encoding, broken ones refused whole."""

import io
import json
from pathlib import Path

import pytest

from mastering.ingest.parsing import TableError, inspect_file, read_chunks
from mastering.models import IngestBatch, SourceRecord
from mastering.services import ingest as ingest_service
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string!", age="integer", score="decimal")


def send(source, data: bytes, name: str = "people.json") -> IngestBatch:
    return ingest_service.receive_table(source=source, stream=io.BytesIO(data), file_name=name, user=None,
                                        channel=IngestBatch.Channel.API, background=False)


def test_a_json_array_over_many_chunks_keeps_row_numbers_and_numbers_as_written(people, monkeypatch):
    monkeypatch.setattr(ingest_service, "CHUNK_ROWS", 3)
    items = [{"id": i, "name": f"Person {i}", "age": 30 + i, "score": "1.50"} for i in range(10)]
    items[7]["age"] = "old"  # the eighth item: row 9, as in a spreadsheet whose header is row 1
    text = json.dumps(items).replace('"score": "1.50"', '"score": 1.50')  # a JSON number, written with its zero
    batch = send(people, text.encode())
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"]) for p in batch.problems] == [(9, "age")]

    items[7]["age"] = 37
    batch = send(people, json.dumps(items).replace('"score": "1.50"', '"score": 1.50').encode())
    assert batch.status == IngestBatch.Status.SUCCEEDED and batch.created == 10
    assert SourceRecord.objects.get(key="7").data["score"] == "1.50"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1"])
def test_a_json_array_in_another_encoding_is_read(people, encoding):
    batch = send(people, '[{"id": "1", "name": "Zoë Müller"}]'.encode(encoding))
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    assert SourceRecord.objects.get().data["name"] == "Zoë Müller"


def test_json_broken_after_several_chunks_is_refused_and_nothing_is_written(people, monkeypatch):
    monkeypatch.setattr(ingest_service, "CHUNK_ROWS", 2)
    good = ", ".join(json.dumps({"id": i, "name": "x"}) for i in range(7))
    batch = send(people, f"[{good}, {{\"id\": 8, \"name\": ".encode())
    assert batch.status == IngestBatch.Status.REJECTED
    assert "not valid JSON" in batch.problems[0]["reason"]
    assert SourceRecord.objects.count() == 0


def test_the_first_chunk_comes_before_the_parser_reaches_the_end(tmp_path: Path):
    path = tmp_path / "long.json"
    path.write_text("[" + ", ".join(json.dumps({"id": i}) for i in range(5000)) + ", broken")
    chunks = read_chunks(inspect_file(path, path.name), chunk_rows=100)
    first = next(chunks)  # json.load would have failed here, having read the whole file
    assert list(first.frame["id"]) == [str(i) for i in range(100)]
    with pytest.raises(TableError, match="not valid JSON"):
        list(chunks)


def test_json_lines_keep_numbers_as_written(people):
    batch = send(people, b'{"id": 1, "name": "Ada", "score": 2.50}\n', name="people.jsonl")
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    assert SourceRecord.objects.get().data["score"] == "2.50"

"""JSON tables are read as a stream: numbered across chunks, in any encoding, broken ones refused whole."""

import io
import json
from pathlib import Path

import pytest

from mastering.ingest import json_stream
from mastering.ingest.parsing import TableError, inspect_file, read_chunks
from mastering.models import IngestBatch, SourceRecord
from mastering.services import ingest as ingest_service
from mastering.services.ingest import checking as ingest_checking
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string!", age="integer", score="decimal")


def send(source, data: bytes, name: str = "people.json") -> IngestBatch:
    return ingest_service.receive_table(source=source, stream=io.BytesIO(data), file_name=name, user=None,
                                        channel=IngestBatch.Channel.API, background=False)


def test_a_json_array_over_many_chunks_keeps_row_numbers_and_numbers_as_written(people, monkeypatch):
    monkeypatch.setattr(ingest_checking, "CHUNK_ROWS", 3)
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


@pytest.mark.parametrize("encoding", ["utf-8-sig", "latin-1", "utf-16"])
def test_a_json_array_in_another_encoding_is_read(people, encoding):
    batch = send(people, '[{"id": "1", "name": "Zoë Müller"}]'.encode(encoding))
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    assert SourceRecord.objects.get().data["name"] == "Zoë Müller"


def test_json_broken_after_several_chunks_is_refused_and_nothing_is_written(people, monkeypatch):
    monkeypatch.setattr(ingest_checking, "CHUNK_ROWS", 2)
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


@pytest.mark.parametrize("block", [1, 7, 1 << 20])
def test_items_split_across_read_blocks_decode_whole(people, monkeypatch, block):
    monkeypatch.setattr(json_stream, "BLOCK_CHARS", block)
    items = [f'{{\n  "id": "{i}",\n  "name": "Person {i}",\n  "age": {10 ** (i % 13)},\n  "score": 1.5{"0" * i}\n}}'
             for i in range(25)]  # pretty-printed, with numbers of every length to be cut by a block's end
    batch = send(people, ("[\n" + ",\n".join(items) + "\n]\n").encode())
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    stored = {record.key: record.data for record in SourceRecord.objects.all()}
    assert stored == {str(i): {"id": str(i), "name": f"Person {i}", "age": 10 ** (i % 13), "score": "1.5" + "0" * i}
                      for i in range(25)}


@pytest.mark.parametrize(("text", "message"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # 200 KB that a prefix-building parser needs gigabytes for
    ('[{"id": 1}, {"id": 2},]', "Expecting value (line 1)"),
    ('[{"id": 1}]\n\n{"id": 2}', "more text after the array (line 3)"),
    ('[{"id": 1} {"id": 2}]', "expected ',' or ']'"),
    ('{"id": 1, "name": "Ada"', "not valid JSON"),
    ('{"rows": [1, 2]}', "must be an array of objects"),
])
def test_broken_or_hostile_json_is_refused_with_where(people, text, message):
    batch = send(people, text.encode())
    assert batch.status == IngestBatch.Status.REJECTED
    assert message in batch.problems[0]["reason"]


def test_odd_items_become_row_problems_not_failures(people):
    items = '[{}, {"id": 2, "name": "Big", "age": 123456789012345678901234567890}, {"id": 3, "name": "x", "age": NaN},' \
            ' {"id": 4, "name": "nul\\u0000here"}, {"id": 5, "name": "fine", "age": 5}]'
    batch = send(people, items.encode())
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"]) for p in batch.problems] == [(2, "id"), (2, "name"), (3, "age"), (4, "age"), (5, "name")]
    assert batch.problems[4]["value"] == "nul\u2400here"  # the report can be stored and shown
    assert "NUL" in batch.problems[4]["reason"]


def test_json_lines_are_numbered_by_their_line_even_after_a_blank_one(people):
    text = b'{"id": 1, "name": "Ada"}\n\nnot json\n{"id": 4, "name": ""}\n[true]\n'
    batch = send(people, text, name="people.jsonl")
    assert batch.status == IngestBatch.Status.REJECTED
    # Line 1 is row 2, as the first record of a CSV is: so line 3 is row 4, line 4 row 5, line 5 row 6.
    assert [(p["row"], p["column"], p["value"]) for p in batch.problems] == [
        (4, "", "not json"), (5, "name", ""), (6, "", "[true]")]


def test_items_that_are_not_objects_are_shown_as_json(people):
    batch = send(people, b'[null, true, ["a"], {"id": 1, "name": "Ada"}]')
    assert [p["value"] for p in batch.problems] == ["null", "true", '["a"]']


@pytest.mark.parametrize(("name", "where"), [("people.json", "JSON array item"), ("people.jsonl", "JSON line")])
def test_a_key_repeated_within_an_object_is_refused_naming_the_key_and_the_row(people, name, where):
    items = ['{"id": 1, "name": "Ada"}', '{"id": 2, "name": "Alan", "age": 41, "name": "Grace", "age": 42}',
             '{"id": 3, "name": "Grace"}']
    text = "[" + ",\n".join(items) + "]" if name.endswith(".json") else "\n".join(items) + "\n"
    batch = send(people, text.encode(), name=name)
    assert batch.status == IngestBatch.Status.REJECTED
    assert batch.problems == [  # sorted by row, then column
        {"row": 3, "column": "age", "value": "", "reason": f"repeats the key 'age' in one object ({where}); each key may "
                                                           "appear once"},
        {"row": 3, "column": "name", "value": "", "reason": f"repeats the key 'name' in one object ({where}); each key may "
                                                            "appear once"},
    ]
    assert SourceRecord.objects.count() == 0


def test_with_partial_an_object_with_a_repeated_key_is_left_out_and_the_rest_kept(people):
    text = b'[{"id": 1, "name": "Ada"}, {"id": 2, "name": "Alan", "name": "Grace"}]'
    batch = ingest_service.receive_table(source=people, stream=io.BytesIO(text), file_name="people.json", user=None,
                                         channel=IngestBatch.Channel.API, background=False, partial=True)
    assert (batch.status, batch.created, batch.rejected) == (IngestBatch.Status.SUCCEEDED, 1, 1)
    assert list(SourceRecord.objects.values_list("key", flat=True)) == ["1"]


def test_a_lone_object_with_a_repeated_key_is_reported_as_such(people):
    batch = send(people, b'[{"id": 1, "name": "Ada", "name": "Grace"}]')
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"], p["reason"]) for p in batch.problems] == [
        (2, "name", "repeats the key 'name' in one object (JSON array item); each key may appear once")]


NUL_KEY = "is a key with a NUL character (shown here as \\u0000), which cannot be stored"


@pytest.mark.parametrize("name", ["people.json", "people.jsonl"])
def test_a_key_holding_a_nul_is_refused_naming_row_and_key_and_nothing_is_written(people, name):
    items = ['{"id": 1, "name": "Ada"}', '{"id": 2, "name": "Alan", "no\\u0000te": "x"}']
    text = "[" + ",\n".join(items) + "]" if name.endswith(".json") else "\n".join(items) + "\n"
    batch = send(people, text.encode(), name=name)
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"], p["reason"]) for p in batch.problems] == [(3, "no\\u0000te", NUL_KEY)]
    assert batch.warnings == []  # the name never reaches the "Ignored column" warning, which the database cannot store
    assert SourceRecord.objects.count() == 0


def test_with_partial_an_object_with_a_nul_in_a_key_is_reported_and_the_rest_kept(people):
    text = b'[{"id": 1, "name": "Ada"}, {"id": 2, "name": "Alan", "\\u0000": "x"}]'
    batch = ingest_service.receive_table(source=people, stream=io.BytesIO(text), file_name="people.json", user=None,
                                         channel=IngestBatch.Channel.API, background=False, partial=True)
    assert (batch.status, batch.created, batch.rejected) == (IngestBatch.Status.SUCCEEDED, 1, 1)
    assert [(p["row"], p["column"]) for p in batch.problems] == [(3, "\\u0000")]
    assert list(SourceRecord.objects.values_list("key", flat=True)) == ["1"]


@pytest.mark.parametrize("name", ["people.json", "people.jsonl"])
def test_a_value_with_an_unpaired_surrogate_is_refused_as_invalid_text_naming_row_and_column(people, name):
    items = ['{"id": 1, "name": "Ada"}', '{"id": 2, "name": "Al\\ud800an"}', '{"id": "\\udfff", "name": "Grace"}']
    text = "[" + ",\n".join(items) + "]" if name.endswith(".json") else "\n".join(items) + "\n"
    batch = send(people, text.encode(), name=name)
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"], p["value"], p["reason"]) for p in batch.problems] == [
        (3, "name", "Al\\ud800an", "holds an unpaired surrogate (\\ud800), which is not valid text"),
        (4, "id", "\\udfff", "holds an unpaired surrogate (\\udfff), which is not valid text"),
    ]
    assert SourceRecord.objects.count() == 0


def test_a_key_with_an_unpaired_surrogate_is_refused_naming_row_and_key(people):
    batch = send(people, b'[{"id": 1, "name": "Ada", "n\\udc00": "x"}]')
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"], p["reason"]) for p in batch.problems] == [
        (2, "n\\udc00", "is a key with an unpaired surrogate (\\udc00), which is not valid text")]
    assert batch.warnings == [] and SourceRecord.objects.count() == 0


def test_with_partial_a_value_with_an_unpaired_surrogate_is_reported_and_the_rest_kept(people):
    text = b'[{"id": 1, "name": "Ada"}, {"id": 2, "name": "\\ud83d"}, {"id": 3, "name": true}]'  # a mixed column
    batch = ingest_service.receive_table(source=people, stream=io.BytesIO(text), file_name="people.json", user=None,
                                         channel=IngestBatch.Channel.API, background=False, partial=True)
    assert (batch.status, batch.created, batch.rejected) == (IngestBatch.Status.SUCCEEDED, 2, 1)
    assert [(p["row"], p["column"]) for p in batch.problems] == [(3, "name")]
    assert sorted(SourceRecord.objects.values_list("key", flat=True)) == ["1", "3"]


@pytest.mark.parametrize("name", ["people.json", "people.jsonl"])
def test_json_with_bytes_windows_1252_leaves_undefined_is_read_as_latin1(people, name):
    item = '{"id": "1", "name": "Zoë \x81\x9d"}'.encode("latin-1")
    batch = send(people, b"[" + item + b"]" if name.endswith(".json") else item + b"\n", name=name)
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    assert any("Latin-1" in w for w in batch.warnings)
    assert SourceRecord.objects.get().data["name"] == "Zoë \x81\x9d"


def test_infinite_and_nan_numbers_are_refused_for_decimal_and_whole_number_fields(people):
    text = (b'[{"id": 1, "name": "Ada", "score": 1e99999}, {"id": 2, "name": "Alan", "score": NaN, "age": Infinity},'
            b' {"id": 3, "name": "Grace", "score": 1e-99999, "age": 85}]')
    batch = send(people, text)
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"], p["value"], p["reason"]) for p in batch.problems] == [
        (2, "score", "1e99999", "is too large a number: beyond about 1.8e308 it counts as infinite, and infinity is not "
                                "accepted"),
        (3, "age", "Infinity", "is not a finite number; NaN and infinity are not accepted"),
        (3, "score", "NaN", "is not a finite number; NaN and infinity are not accepted"),
    ]
    assert SourceRecord.objects.count() == 0

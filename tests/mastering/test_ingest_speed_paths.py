"""The fast ingest paths: tables spread over many chunks, vectorized checks, stable hashes.

CHUNK_ROWS is made tiny so that every rule that spans chunks (repeated keys, staging, the
merge that classifies each staged key, snapshot retirement) is exercised on a few rows.
"""

import io

import pandas as pd
import pyarrow as pa
import pytest

from mastering import selectors, services
from mastering.ingest import staging
from mastering.ingest.validation import FieldSpec, Validator, canonical_column
from mastering.models import IngestBatch, SourceRecord, SourceRecordVersion
from mastering.services.ingest import checking as ingest_checking
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(ingest_checking, "CHUNK_ROWS", 3)


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="integer", name="string!", age="integer")


def send(source, text: str, **options) -> IngestBatch:
    return services.receive_table(source=source, stream=io.BytesIO(text.encode()), file_name="t.csv", user=None,
                                  channel=IngestBatch.Channel.API, background=False, **options)


def table(rows: list[str]) -> str:
    return "id,name,age\n" + "".join(f"{row}\n" for row in rows)


def test_repeated_keys_across_chunks_reject_the_batch_with_the_first_row_named(people):
    # Row 2 and row 7 hold key 1 (row 7 writes it as 01); row 9 repeats row 6 in a later chunk.
    batch = send(people, table(["1,Ada,36", "2,Alan,41", "3,Grace,85", "4,Edsger,72", "01,Ada again,36",
                                "6,Barbara,", "7,Donald,", "6,Barbara again,"]))
    assert batch.status == IngestBatch.Status.REJECTED
    assert batch.problems == [
        {"row": 6, "column": "id", "value": "1", "reason": "repeats a key already used on row 2"},
        {"row": 9, "column": "id", "value": "6", "reason": "repeats a key already used on row 7"},
    ]
    assert (batch.received, batch.rejected) == (8, 2)
    assert not SourceRecord.objects.exists()


def test_partial_batch_keeps_the_first_row_of_each_key_across_chunks(people):
    batch = send(people, table(["1,Ada,36", "2,Alan,41", "3,Grace,85", "1,Ada again,37", "4,Edsger,x"]), partial=True)
    assert batch.status == IngestBatch.Status.SUCCEEDED
    assert (batch.created, batch.rejected) == (3, 2)
    assert [p["row"] for p in batch.problems] == [5, 6]
    assert SourceRecord.objects.get(key="1").data == {"id": 1, "name": "Ada", "age": 36}


def test_reingest_over_many_chunks_sorts_new_changed_unchanged_and_returning_rows(people):
    first = send(people, table([f"{i},Person {i},{20 + i}" for i in range(1, 8)]))
    assert first.created == 7
    send(people, table(["1,Person 1,21"]), mode=IngestBatch.Mode.SNAPSHOT)  # retires 2..7
    rows = [f"{i},Person {i},{20 + i}" for i in range(1, 8)] + ["8,Person 8,28"]
    rows[2] = "3,Person three,23"
    again = send(people, table(rows))
    assert again.counts == {"received": 8, "created": 1, "updated": 6, "unchanged": 1, "rejected": 0, "retired": 0}
    three = SourceRecord.objects.get(key="3")
    assert (three.version, three.data["name"], three.retired) == (3, "Person three", False)
    assert SourceRecordVersion.objects.filter(record=three).count() == 2
    assert {selectors.last_seen_batch(record=record) for record in SourceRecord.objects.all()} == {again}
    assert SourceRecord.objects.get(key="1").version == 1  # unchanged throughout


def test_snapshot_does_not_retire_keys_written_differently_or_on_rejected_rows(people):
    send(people, table(["7,Ada,36", "8,Alan,41", "9,Grace,85", "10,Edsger,72"]))
    # 007 is key 7 written with zeros; row for 8 is bad (partial): both records stay live.
    batch = send(people, table(["007,Ada,36", "8,Alan,forty-one", "9,Grace,85"]), mode=IngestBatch.Mode.SNAPSHOT,
                 partial=True)
    assert (batch.retired, batch.rejected, batch.unchanged) == (1, 1, 2)
    assert list(SourceRecord.objects.filter(retired=True).values_list("key", flat=True)) == ["10"]


def test_batch_timings_name_each_stage(people):
    batch = send(people, table(["1,Ada,36", "2,Alan,41", "3,Grace,85", "4,Edsger,72"]))
    assert {"inspect_s", "read_s", "check_s", "stage_s", "validate_s", "write_s", "total_s"} <= set(batch.timings)
    assert IngestBatch.objects.get(pk=batch.pk).timings == batch.timings


def test_content_hashes_match_those_already_stored():
    # Stored hashes decide what counts as a change: these are the first implementation's values.
    specs = [FieldSpec("id", "string", True), FieldSpec("name", "string", True), FieldSpec("age", "integer"),
             FieldSpec("email", "email")]
    frame = pd.DataFrame({"id": ["1", "3", "7"], "name": ["Ada Lovelace", "Grace Hopper", "Zoë Ångström"],
                          "age": ["36", "085", ""], "email": ["ada@example.com", "", ""]}).astype(str)
    chunk, problems = Validator(specs, "id").validate(frame, pd.Series([2, 3, 4]))
    assert problems == []
    assert chunk.hashes.to_pylist() == ["f6750693f667a9ba", "08e6338b95ad45ff", "78e0e9e965cb6ee2"]
    assert chunk.records()[1] == {"id": "3", "name": "Grace Hopper", "age": "85", "email": None}


@pytest.mark.parametrize(
    ("kind", "cells", "canonical", "bad"),
    [
        ("integer", ["+5", "-0", "007", "١٢٣", "1.0", "1234567890123456789"],
         ["5", "0", "7", "123", None, None], [False, False, False, False, True, True]),
        ("email", ["ørjan@example.com", "a\u00a0b@c.de", "a\x1c@b.c", "a@b"], None, [False, True, True, True]),
        ("phone", ["+1 555 123 4567", "(555)\u2003123", "١٢٣٤٥", "12\u20033", "1234"], None,
         [False, False, False, True, True]),
        ("date", ["2024-02-29", "2024-02-30", "٢٠٢٤-٠١-٠١"], ["2024-02-29", None, None], [False, True, True]),
        ("datetime", ["2024-01-31T09:30:00.75+02:00", "0999-01-01T00:00Z"],
         ["2024-01-31T07:30:00Z", "999-01-01T00:00:00Z"], [False, False]),
    ],
)
def test_checks_read_digits_and_spaces_as_python_does(kind, cells, canonical, bad):
    # Arrow's regex engine knows only ASCII digits and spaces; non-ASCII cells must still follow Python's rules.
    values, flags, _ = canonical_column(pa.array(cells, pa.string()), kind)
    assert flags.tolist() == bad
    if canonical is not None:
        assert [value if not flag else None for value, flag in zip(values.to_pylist(), bad)] == canonical


def test_produced_ahead_hands_over_errors_and_stops_early():
    def numbers():
        yield 1
        yield 2
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        list(staging.produced_ahead(numbers()))
    produced = []

    def endless():
        while True:
            produced.append(len(produced))
            yield produced[-1]

    for item in staging.produced_ahead(endless(), depth=2):
        if item == 3:
            break
    assert len(produced) <= 3 + 2 + 2  # the producer stops within a few items of the consumer

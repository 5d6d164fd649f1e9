"""Tables in over REST: every bad input gets a clear error and writes nothing."""

import codecs
import io
import json
import time

import pytest
from django.db import connection

from lineage.models import Activity
from mastering import selectors
from mastering.models import IngestBatch, SourceRecord, SourceRecordVersion
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db

PEOPLE = "id,name,age,email\n1,Ada Lovelace,36,ada@example.com\n2,Alan Turing,41,alan@example.com\n3,Grace Hopper,85,\n"


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string!", age="integer", email="email")


@pytest.fixture
def api(api_for, engineer):
    return api_for(engineer)


def post_csv(api, text: str | bytes, *, slug="people", name="people.csv", **params):
    data = text.encode() if isinstance(text, str) else text
    upload = io.BytesIO(data)
    upload.name = name
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.post(f"/api/sources/{slug}/batches/?{query}", {"file": upload}, format="multipart")


def records():
    return {r.key: r.data for r in SourceRecord.objects.all()}


def reasons(response) -> list[str]:
    return [p["reason"] for p in response.json()["problems"]]


def test_csv_batch_creates_versioned_records_and_activity(api, people, engineer):
    response = post_csv(api, PEOPLE)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["counts"] == {"received": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0, "retired": 0}
    assert records()["1"] == {"id": "1", "name": "Ada Lovelace", "age": 36, "email": "ada@example.com"}
    assert records()["3"]["email"] is None
    assert len(body["checksum"]) == 64
    activity = Activity.objects.get(kind=Activity.Kind.INGEST)
    assert activity.user == engineer
    assert activity.parameters["counts"]["created"] == 3
    assert activity.parameters["checksum"] == body["checksum"]


def test_same_file_twice_is_all_unchanged_and_writes_no_versions(api, people):
    post_csv(api, PEOPLE)
    response = post_csv(api, PEOPLE)
    assert response.status_code == 201
    assert response.json()["counts"]["unchanged"] == 3
    assert response.json()["counts"]["created"] == response.json()["counts"]["updated"] == 0
    assert SourceRecordVersion.objects.count() == 0
    assert set(SourceRecord.objects.values_list("version", flat=True)) == {1}
    second = IngestBatch.objects.order_by("-id").first()
    assert {selectors.last_seen_batch(record=record) for record in SourceRecord.objects.all()} == {second}


def test_changed_row_makes_a_new_version_and_keeps_the_old(api, people):
    post_csv(api, PEOPLE)
    response = post_csv(api, PEOPLE.replace("Alan Turing,41", "Alan M. Turing,41"))
    assert response.json()["counts"] == {"received": 3, "created": 0, "updated": 1, "unchanged": 2, "rejected": 0, "retired": 0}
    record = SourceRecord.objects.get(key="2")
    assert (record.version, record.data["name"]) == (2, "Alan M. Turing")
    old = SourceRecordVersion.objects.get(record=record)
    assert (old.version, old.data["name"]) == (1, "Alan Turing")


def test_empty_file_is_refused(api, people):
    response = post_csv(api, "")
    assert response.status_code == 400
    assert "empty" in response.json()["detail"]
    assert SourceRecord.objects.count() == 0


def test_header_only_is_refused(api, people):
    response = post_csv(api, "id,name,age,email\n")
    assert response.status_code == 400
    assert "header but no rows" in response.json()["detail"]


def test_missing_key_column_is_refused(api, people):
    response = post_csv(api, "name,age\nAda,36\n")
    assert response.status_code == 400
    assert "key column 'id' is missing" in response.json()["detail"]


def test_missing_required_column_is_refused(api, people):
    response = post_csv(api, "id,age\n1,36\n")
    assert response.status_code == 400
    assert "Required column missing: name" in response.json()["detail"]


def test_unknown_columns_are_ignored_with_a_warning(api, people):
    response = post_csv(api, "id,name,shoe_size\n1,Ada,38\n")
    assert response.status_code == 201
    assert any("shoe_size" in w for w in response.json()["warnings"])
    assert "shoe_size" not in records()["1"]


def test_wrong_types_reject_the_whole_batch_with_every_problem(api, people):
    response = post_csv(api, "id,name,age,email\n1,Ada,thirty,ada@example.com\n2,Alan,41,not-an-email\n3,Grace,85,\n")
    assert response.status_code == 400
    body = response.json()
    assert body["problems"] == [
        {"row": 2, "column": "age", "value": "thirty", "reason": "is not a whole number"},
        {"row": 3, "column": "email", "value": "not-an-email", "reason": "is not an email address"},
    ]
    assert "nothing was written" in body["detail"]
    assert body["counts"]["rejected"] == 2
    assert SourceRecord.objects.count() == 0


def test_partial_keeps_good_rows_and_reports_bad_ones(api, people):
    response = post_csv(api, "id,name,age,email\n1,Ada,thirty,\n2,Alan,41,\n", partial="true")
    assert response.status_code == 201
    body = response.json()
    assert body["counts"]["created"] == 1 and body["counts"]["rejected"] == 1
    assert body["problems"][0]["row"] == 2
    assert list(records()) == ["2"]


def test_blank_and_duplicate_keys_are_problems(api, people):
    response = post_csv(api, "id,name\n1,Ada\n,Nobody\n1,Ada again\n")
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert {"row": 3, "column": "id", "value": "", "reason": "is empty; every record needs a key"} in problems
    assert {"row": 4, "column": "id", "value": "1", "reason": "repeats a key already used on row 2"} in problems


def test_required_value_missing_is_a_problem(api, people):
    response = post_csv(api, "id,name\n1,\n")
    assert reasons(response) == ["is required but empty"]


def test_ragged_rows_are_reported_by_row(api, people):
    response = post_csv(api, "id,name,age\n1,Ada,36\n2,Alan,41,extra\n3\n")
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert any(p["row"] == 3 and "has 4 fields where the header has 3" in p["reason"] for p in problems)
    assert any(p["row"] == 4 and "has 1 fields where the header has 3" in p["reason"] for p in problems)
    assert SourceRecord.objects.count() == 0


def test_unbalanced_quotes_are_refused_clearly(api, people):
    response = post_csv(api, 'id,name\n1,"Ada\n2,Alan\n')
    assert response.status_code == 400
    assert "quoted value is never closed" in response.json()["detail"]


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_with_and_without_bom(api, people, bom):
    response = post_csv(api, bom + "id,name\n1,Zoë Ångström\n".encode())
    assert response.status_code == 201, response.json()
    assert records()["1"]["name"] == "Zoë Ångström"


def test_latin1_is_detected_and_read_with_a_warning(api, people):
    response = post_csv(api, "id,name\n1,Zoë Müller\n".encode("latin-1"))
    assert response.status_code == 201
    assert any("Latin-1" in w for w in response.json()["warnings"])
    assert records()["1"]["name"] == "Zoë Müller"


def test_mixed_encodings_are_refused(api, people):
    response = post_csv(api, "id,name\n1,Zoë\n".encode() + "2,Müller\n".encode("latin-1"))
    assert response.status_code == 400
    assert "mixes encodings" in response.json()["detail"]
    assert "line 3" in response.json()["detail"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_other_delimiters_are_sniffed(api, people, delimiter):
    text = f"id{delimiter}name{delimiter}age\n1{delimiter}Ada, Countess{delimiter}36\n"
    response = post_csv(api, text)
    assert response.status_code == 201, response.json()
    assert records()["1"] == {"id": "1", "name": "Ada, Countess", "age": 36, "email": None}


def test_file_over_the_limit_is_413_and_nothing_written(api, people, settings, data_dir):
    settings.STEWARD_MAX_UPLOAD_BYTES = 1000
    response = post_csv(api, PEOPLE + "".join(f"{i},Person {i},30,\n" for i in range(10, 200)))
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]
    assert SourceRecord.objects.count() == 0 and IngestBatch.objects.count() == 0
    assert not any((data_dir / "uploads").glob("*"))


def test_raw_body_over_the_limit_is_refused_from_content_length(api, people, settings):
    settings.STEWARD_MAX_UPLOAD_BYTES = 10
    response = api.generic("POST", "/api/sources/people/batches/", "x" * 70_000, content_type="text/csv")
    assert response.status_code == 413


def test_binary_file_is_refused(api, people):
    response = post_csv(api, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), name="photo.png")
    assert response.status_code == 400
    assert "binary file" in response.json()["detail"]


def test_json_array_of_objects_is_ingested(api, people):
    body = '[{"id": 1, "name": "Ada", "age": 36}, {"id": "2", "name": "Alan", "age": null}]'
    response = api.generic("POST", "/api/sources/people/batches/", body, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert records()["1"]["age"] == 36 and records()["2"]["age"] is None


def test_json_lines_are_ingested(api, people):
    body = '{"id": 1, "name": "Ada"}\n{"id": 2, "name": "Alan", "age": 41}\n'
    response = api.generic("POST", "/api/sources/people/batches/", body, content_type="application/x-ndjson")
    assert response.status_code == 201, response.json()
    assert response.json()["counts"]["created"] == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"id": 1, "name": "Ada"', "not valid JSON"),
        ('{"rows": [1, 2]}', "array of objects"),
        ("[]", "array is empty"),
    ],
)
def test_json_that_is_not_an_array_of_objects_is_refused(api, people, body, message):
    response = api.generic("POST", "/api/sources/people/batches/", body, content_type="application/json")
    assert response.status_code == 400
    assert message in response.json()["detail"]


def test_json_items_that_are_not_plain_objects_are_problems(api, people):
    body = '[1, {"id": 2, "name": {"first": "Alan"}}, {"id": 3, "name": "Grace"}]'
    response = api.generic("POST", "/api/sources/people/batches/", body, content_type="application/json")
    assert response.status_code == 400
    assert reasons(response) == ["is not a JSON object (JSON array item)", "holds a nested object or list; values must be plain"]


def test_unsupported_content_type_is_refused(api, people):
    response = api.generic("POST", "/api/sources/people/batches/", b"\x00", content_type="application/pdf")
    assert response.status_code == 400
    assert "Unsupported content type" in response.json()["detail"]


def test_snapshot_retires_absent_records_and_append_leaves_them(api, people):
    post_csv(api, PEOPLE)
    append = post_csv(api, "id,name\n1,Ada Lovelace\n", mode="append")
    assert append.json()["counts"]["retired"] == 0
    snapshot = post_csv(api, "id,name,age,email\n1,Ada Lovelace,36,ada@example.com\n", mode="snapshot")
    assert snapshot.json()["counts"]["retired"] == 2
    assert set(SourceRecord.objects.filter(retired=True).values_list("key", flat=True)) == {"2", "3"}
    back = post_csv(api, PEOPLE)
    assert back.json()["counts"]["updated"] == 2
    assert not SourceRecord.objects.filter(retired=True).exists()


def test_inactive_source_refuses_batches(api, people):
    people.active = False
    people.save()
    response = post_csv(api, PEOPLE)
    assert response.status_code == 409
    assert "inactive" in response.json()["detail"]


def test_business_user_cannot_push_tables(api_for, business_user, people):
    response = post_csv(api_for(business_user), PEOPLE)
    assert response.status_code == 403
    assert SourceRecord.objects.count() == 0


def test_problem_report_downloads_as_csv(api, people):
    response = post_csv(api, "id,name,age\n1,Ada,=SUM(A1)\n")
    batch_id = response.json()["id"]
    report = api.get(f"/api/batches/{batch_id}/problems/?format=csv")
    assert report.status_code == 200
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines[0] == "row,column,value,reason"
    assert lines[1] == "2,age,'=SUM(A1),is not a whole number"


def test_large_table_runs_as_a_background_job(api, people, settings, django_capture_on_commit_callbacks):
    settings.STEWARD_INLINE_INGEST_BYTES = 10
    with django_capture_on_commit_callbacks(execute=True):
        response = post_csv(api, PEOPLE)
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    batch = IngestBatch.objects.get(pk=response.json()["id"])
    assert batch.status == IngestBatch.Status.SUCCEEDED and batch.created == 3
    polled = api.get(f"/api/batches/{batch.pk}/").json()
    assert polled["status"] == "succeeded" and polled["rows_read"] == 3


def test_run_ingest_twice_is_a_no_op(api, people):
    from mastering import services

    response = post_csv(api, PEOPLE)
    batch = services.run_ingest(batch_id=response.json()["id"])
    assert batch.created == 3
    assert SourceRecord.objects.count() == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite serializes all writers anyway")
@pytest.mark.django_db(transaction=True)
def test_two_batches_for_one_source_at_once_lose_nothing(engineer):
    import threading

    from mastering import services

    source = source_with_fields("people", key="id", id="string", name="string")
    first = "id,name\n" + "".join(f"{i},first {i}\n" for i in range(0, 3000))
    second = "id,name\n" + "".join(f"{i},second {i}\n" for i in range(1500, 4500))
    errors = []

    def send(text: str) -> None:
        from django.db import connection as thread_connection

        try:
            services.receive_table(source=source, stream=io.BytesIO(text.encode()), file_name="t.csv", user=engineer,
                                   channel=IngestBatch.Channel.API)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=send, args=(text,)) for text in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert SourceRecord.objects.filter(source=source).count() == 4500
    overlap = SourceRecord.objects.filter(source=source, key__in=[str(i) for i in range(1500, 3000)])
    # Whichever batch went second wrote version 2 of every overlapping record; none was lost or doubled.
    assert set(overlap.values_list("version", flat=True)) == {2}
    assert SourceRecordVersion.objects.filter(record__source=source).count() == 1500


def test_a_line_of_spaces_is_skipped_without_losing_the_next_row(api, people):
    response = post_csv(api, "id,name\n1,Ada\n   \n2,Alan\n3,Grace\n", partial="true")
    assert response.status_code == 201, response.json()
    assert sorted(records()) == ["1", "2", "3"]
    bad = post_csv(api, "id,name,age\n1,Ada,1\n   \n2,Alan,x\n")
    assert bad.json()["problems"][0]["row"] == 4  # spreadsheet row of "2,Alan,x", the blank line counted


# --- Columns a table leaves out: they keep the record's current values (append and snapshot alike).

CATALOG = "id,name,price,stock\nS1,Widget,2.50,7\nS2,Gadget,4.00,3\n"


@pytest.fixture
def catalog():
    return source_with_fields("catalog", key="id", id="string", name="string", price="decimal", stock="integer")


def post_json(api, body: str, *, slug="catalog", content_type="application/json", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.generic("POST", f"/api/sources/{slug}/batches/?{query}", body, content_type=content_type)


@pytest.mark.parametrize("mode", ["append", "snapshot"])
def test_a_table_with_no_known_column_besides_the_key_is_refused_and_changes_nothing(api, catalog, mode):
    post_csv(api, CATALOG, slug="catalog")
    response = post_csv(api, "id,foo\nS1,x\n", slug="catalog", mode=mode)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The table has no column of this source besides the key 'id' (columns found: id, foo). "
        "Expected at least one of: name, price, stock.")
    assert records()["S1"] == {"id": "S1", "name": "Widget", "price": "2.50", "stock": 7}
    assert SourceRecordVersion.objects.count() == 0


def test_a_json_table_with_no_known_key_besides_the_key_is_refused(api, catalog):
    post_csv(api, CATALOG, slug="catalog")
    response = post_json(api, '[{"id": "S1", "foo": "x"}]')
    assert response.status_code == 400
    assert "Expected at least one of: name, price, stock." in response.json()["detail"]
    assert records()["S1"]["name"] == "Widget"


@pytest.mark.parametrize("mode", ["append", "snapshot"])
def test_columns_absent_from_a_table_keep_their_values_and_only_real_changes_make_versions(api, catalog, mode):
    post_csv(api, CATALOG, slug="catalog")
    response = post_csv(api, "id,price\nS1,2.75\nS2,4.00\n", slug="catalog", mode=mode)
    assert response.status_code == 201, response.json()
    assert response.json()["counts"] == {"received": 2, "created": 0, "updated": 1, "unchanged": 1, "rejected": 0,
                                         "retired": 0}
    assert records() == {"S1": {"id": "S1", "name": "Widget", "price": "2.75", "stock": 7},
                         "S2": {"id": "S2", "name": "Gadget", "price": "4.00", "stock": 3}}
    assert dict(SourceRecord.objects.values_list("key", "version")) == {"S1": 2, "S2": 1}
    old = SourceRecordVersion.objects.get()
    assert old.data == {"id": "S1", "name": "Widget", "price": "2.50", "stock": 7}
    # The stored hash is that of the whole record: sending it all again changes nothing.
    again = post_csv(api, "id,name,price,stock\nS1,Widget,2.75,7\nS2,Gadget,4.00,3\n", slug="catalog", mode=mode)
    assert again.json()["counts"]["unchanged"] == 2


def test_a_snapshot_with_some_columns_retires_absent_records_and_keeps_absent_columns(api, catalog):
    post_csv(api, CATALOG, slug="catalog")
    response = post_csv(api, "id,stock\nS1,8\n", slug="catalog", mode="snapshot")
    assert response.json()["counts"]["retired"] == 1
    assert records()["S1"] == {"id": "S1", "name": "Widget", "price": "2.50", "stock": 8}
    assert SourceRecord.objects.get(key="S2").retired


def test_a_new_record_in_a_table_with_some_columns_has_the_others_empty(api, catalog):
    post_csv(api, CATALOG, slug="catalog")
    response = post_csv(api, "id,price\nS3,1.00\n", slug="catalog")
    assert response.json()["counts"]["created"] == 1
    assert records()["S3"] == {"id": "S3", "name": None, "price": "1.00", "stock": None}


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_a_json_object_that_omits_a_key_keeps_that_value_and_null_clears_it(api, catalog, content_type):
    post_csv(api, CATALOG, slug="catalog")
    items = ['{"id": "S1", "price": "2.75"}', '{"id": "S2", "name": "Gadget", "stock": null}']
    body = "[" + ", ".join(items) + "]" if content_type == "application/json" else "\n".join(items) + "\n"
    response = post_json(api, body, content_type=content_type)
    assert response.status_code == 201, response.json()
    assert response.json()["counts"]["updated"] == 2
    assert records() == {"S1": {"id": "S1", "name": "Widget", "price": "2.75", "stock": 7},
                         "S2": {"id": "S2", "name": "Gadget", "price": "4.00", "stock": None}}


def test_an_object_that_gives_only_its_key_leaves_its_record_unchanged(api, catalog):
    post_csv(api, CATALOG, slug="catalog")
    response = post_json(api, '[{"id": "S1"}, {"id": "S2", "name": "Gadget II"}]')
    assert response.json()["counts"] == {"received": 2, "created": 0, "updated": 1, "unchanged": 1, "rejected": 0,
                                         "retired": 0}
    assert records()["S1"] == {"id": "S1", "name": "Widget", "price": "2.50", "stock": 7}


def test_a_kept_value_that_no_longer_fits_its_field_type_refuses_the_table(api, catalog):
    post_csv(api, CATALOG.replace("S2,Gadget", "S2,12"), slug="catalog")
    catalog.fields.filter(name="name").update(type="integer")  # an admin retyped the field after S1 was stored
    response = post_csv(api, "id,price\nS1,2.75\nS2,4.50\n", slug="catalog")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Record S1 keeps its name ('Widget'), which this table leaves out, but the value is not a whole number "
        "as the field now requires. Send the name column too.")
    assert records()["S1"]["price"] == "2.50"


# --- Wide tables: refused at once, and header checks stay linear.

WIDE = 200_000


def wide_csv(columns: int, *, repeat_last: bool = False) -> str:
    names = ["id", "name"] + [f"c{i}" for i in range(columns - 2)]
    if repeat_last:
        names[-1] = names[-2]
    return ",".join(names) + "\n" + ",".join(["1", "Ada"] + ["x"] * (columns - 2)) + "\n"


def test_a_csv_with_200000_columns_is_refused_at_once(api, people):
    started = time.perf_counter()
    response = post_csv(api, wide_csv(WIDE))  # 1.4 MB: a header that once kept a thread busy for minutes
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The table has 200,000 columns; at most 1,000 are accepted (STEWARD_MAX_COLUMNS).")
    assert time.perf_counter() - started < 10
    assert SourceRecord.objects.count() == 0


def test_a_json_object_with_200000_keys_is_refused_at_once(api, people):
    item = {"id": "1", "name": "Ada", **{f"c{i}": "x" for i in range(WIDE - 2)}}
    for content_type, body in [("application/json", json.dumps([item])), ("application/x-ndjson", json.dumps(item))]:
        started = time.perf_counter()
        response = api.generic("POST", "/api/sources/people/batches/", body, content_type=content_type)
        assert response.status_code == 400
        assert response.json()["detail"] == (
            "The table has 200,000 columns (different keys in its objects); at most 1,000 are accepted "
            "(STEWARD_MAX_COLUMNS).")
        assert time.perf_counter() - started < 10
    assert SourceRecord.objects.count() == 0


def test_a_repeated_column_in_a_very_wide_header_is_found_in_linear_time(api, people, settings):
    settings.STEWARD_MAX_COLUMNS = WIDE  # past the limit's guard, the duplicate check itself must be fast
    started = time.perf_counter()
    response = post_csv(api, wide_csv(WIDE, repeat_last=True))
    assert response.status_code == 400
    assert response.json()["detail"] == f"The header names these columns more than once: c{WIDE - 4}."
    assert time.perf_counter() - started < 10


def test_the_column_limit_is_a_setting(api, people, settings):
    settings.STEWARD_MAX_COLUMNS = 3
    assert post_csv(api, "id,name,age,email\n1,Ada,36,\n").json()["detail"] == (
        "The table has 4 columns; at most 3 are accepted (STEWARD_MAX_COLUMNS).")
    assert post_csv(api, "id,name,age\n1,Ada,36\n").status_code == 201


# --- UTF-16, as Excel's "Unicode text" and some Windows tools save it.

@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_a_byte_order_mark_is_decoded(api, people, codec):
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    text = 'id,name,age\r\n1,Zoë Ångström,36\r\n2,"Turing, Alan 😀",41\r\n3,"two\nlines",85\r\n'
    response = post_csv(api, bom + text.encode(codec))
    assert response.status_code == 201, response.json()
    assert response.json()["counts"]["created"] == 3
    assert records()["1"]["name"] == "Zoë Ångström"
    assert records()["2"] == {"id": "2", "name": "Turing, Alan 😀", "age": 41, "email": None}
    assert records()["3"]["name"] == "two\nlines"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_rows_are_numbered_as_in_utf8(api, people, codec):
    bom = codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE
    response = post_csv(api, bom + "id,name,age\n1,Ada,36\n\n2,Alan,old\n".encode(codec))
    assert response.status_code == 400
    assert response.json()["problems"] == [{"row": 4, "column": "age", "value": "old", "reason": "is not a whole number"}]


def test_utf16_without_a_byte_order_mark_is_named(api, people):
    response = post_csv(api, "id,name\n1,Ada\n".encode("utf-16-le"))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "This looks like UTF-16 text without a byte order mark. Save the table as UTF-8 (or UTF-16 with a byte order "
        "mark) and try again.")


def test_a_header_with_a_nul_past_the_first_64_kb_is_refused_naming_the_column(api, people):
    # inspect_file looks for NUL bytes (a binary file) in the first 64 KB only.
    response = post_csv(api, b"id,name," + b"c" * 70_000 + b"\x00d\n1,Ada,x\n")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Header column 3 (ccc")
    assert response.json()["detail"].endswith("has a NUL character (shown here as \\u0000), which cannot be stored.")
    assert SourceRecord.objects.count() == 0


def test_a_file_with_bytes_windows_1252_leaves_undefined_is_read_as_latin1_with_the_warning(api, people):
    # 0x81, 0x8D, 0x8F, 0x90 and 0x9D: Python's cp1252 fails on them; browsers read them as Latin-1 controls.
    response = post_csv(api, b"id,name\n1,Zo\xeb \x80\n2,a\x81\x8d\x8f\x90\x9db\n")
    assert response.status_code == 201, response.json()
    assert any("Latin-1" in w for w in response.json()["warnings"])
    assert records()["1"]["name"] == "Zoë €"
    assert records()["2"]["name"] == "a\x81\x8d\x8f\x90\x9db"


def test_infinite_and_nan_numbers_in_a_csv_are_refused_naming_row_and_column(api):
    source_with_fields("prices", key="id", id="string", price="decimal", stock="integer")
    text = f"id,price,stock\n1,1e99999,3\n2,{'9' * 400},4\n3,-inf,NaN\n4,12.50,5\n"
    response = post_csv(api, text, slug="prices")
    assert response.status_code == 400
    assert [(p["row"], p["column"], p["value"][:8], p["reason"].split(":")[0].split(";")[0])
            for p in response.json()["problems"]] == [
        (2, "price", "1e99999", "is too large a number"), (3, "price", "99999999", "is too large a number"),
        (4, "price", "-inf", "is not a finite number"), (4, "stock", "NaN", "is not a finite number")]
    assert SourceRecord.objects.count() == 0


def test_a_one_column_file_whose_rows_split_two_ways_is_refused(api, people):
    # Binary noise without NUL bytes (decoded as Windows-1252): pandas and the csv module count its rows differently.
    response = post_csv(api, bytes((i * 7919) % 251 + 1 for i in range(5000)))
    assert response.status_code == 400
    assert "rows split two ways" in response.json()["detail"]
    assert SourceRecord.objects.count() == 0

"""Streaming upserts and tables out for sources."""

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections

from lineage.models import Activity
from mastering.models import IngestBatch, SourceRecord, SourceRecordVersion
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="integer", name="string!", active="boolean", born="date")


@pytest.fixture
def api(api_for, engineer):
    return api_for(engineer)


def put(api, key, data, slug="people"):
    return api.put(f"/api/sources/{slug}/records/{key}/", {"data": data}, format="json")


def test_stream_put_creates_then_versions_a_record(api, people, engineer):
    first = put(api, 7, {"name": "Ada", "active": "yes", "born": "1815-12-10"})
    assert first.status_code == 200, first.json()
    assert first.json()["version"] == 1
    assert first.json()["data"] == {"id": 7, "name": "Ada", "active": True, "born": "1815-12-10"}
    second = put(api, 7, {"name": "Ada Lovelace", "active": True, "born": "1815-12-10"})
    assert second.json()["version"] == 2
    assert SourceRecordVersion.objects.get().data["name"] == "Ada"
    assert IngestBatch.objects.filter(channel=IngestBatch.Channel.STREAM).count() == 2
    assert Activity.objects.filter(kind=Activity.Kind.STREAM, user=engineer).count() == 2


def test_stream_put_of_unchanged_record_keeps_its_version(api, people):
    put(api, 7, {"name": "Ada"})
    again = put(api, 7, {"name": "Ada"})
    assert again.json()["version"] == 1
    assert SourceRecordVersion.objects.count() == 0


@pytest.fixture
def papers():
    return source_with_fields("papers", key="id", id="string", title="string", year="integer")


def test_stream_put_replaces_the_whole_record_so_fields_left_out_become_empty(api, papers):
    put(api, "P1", {"title": "Dedupe", "year": 2001}, slug="papers")
    response = put(api, "P1", {"title": "Dedupe, revised"}, slug="papers")
    assert response.status_code == 200, response.json()
    assert (response.json()["version"], response.json()["data"]) == (2, {"id": "P1", "title": "Dedupe, revised", "year": None})


def test_stream_put_with_no_field_of_the_source_is_refused_and_changes_nothing(api, papers):
    put(api, "P1", {"title": "Dedupe", "year": 2001}, slug="papers")
    response = put(api, "P1", {"foo": "x"}, slug="papers")
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "The record has no field of this source besides the key 'id' (fields given: foo). Expected at least one of: "
        "title, year. A PUT replaces the whole record, so send every field it should keep.")
    record = SourceRecord.objects.get(key="P1")
    assert (record.version, record.data) == (1, {"id": "P1", "title": "Dedupe", "year": 2001})


def test_stream_put_refuses_bad_types_and_writes_nothing(api, people):
    response = put(api, 7, {"name": "Ada", "born": "10/12/1815"})
    assert response.status_code == 400
    assert response.json()["detail"] == "born is not a date like 2024-01-31"
    assert response.json()["problems"][0]["column"] == "born"
    assert not SourceRecord.objects.exists() and not IngestBatch.objects.exists()


def test_stream_put_refuses_a_key_that_disagrees_with_the_address(api, people):
    response = put(api, 7, {"id": 8, "name": "Ada"})
    assert response.status_code == 400
    assert "differs from the key in the address" in response.json()["detail"]


def test_stream_put_refuses_nested_values(api, people):
    response = put(api, 7, {"name": {"first": "Ada"}})
    assert response.status_code == 400
    assert "plain" in response.json()["detail"]


def test_stream_put_requires_the_ingest_capability(api_for, curator, people):
    assert put(api_for(curator), 7, {"name": "Ada"}).status_code == 403


def test_keys_with_slashes_work(api_for, engineer):
    source_with_fields("dblp", key="id", id="string", title="string")
    api = api_for(engineer)
    assert put(api, "conf/sigmod/Smith01", {"title": "T"}, slug="dblp").status_code == 200
    response = api.get("/api/sources/dblp/records/conf/sigmod/Smith01/")
    assert response.status_code == 200 and response.json()["key"] == "conf/sigmod/Smith01"


def test_record_list_is_paginated_and_filterable(api, people):
    for key, name in [(1, "Ada"), (2, "Alan"), (3, "Grace")]:
        put(api, key, {"name": name})
    response = api.get("/api/sources/people/records/?q=gra")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["results"][0]["key"] == "3"
    assert set(body) == {"count", "next", "previous", "results"}
    paged = api.get("/api/sources/people/records/?page_size=2").json()
    assert paged["count"] == 3 and len(paged["results"]) == 2 and paged["next"]


def test_record_csv_export_streams_every_match_and_escapes_formulas(api, people):
    put(api, 1, {"name": "=HYPERLINK(\"http://evil\")"})
    put(api, 2, {"name": "Alan"})
    response = api.get("/api/sources/people/records/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    assert lines[0] == "key,version,retired,updated_at,id,name,active,born"
    assert lines[1].startswith("1,1,False,") and "'=HYPERLINK" in lines[1]
    assert len(lines) == 3


def test_source_api_creates_and_updates_sources(api_for, admin_user):
    api = api_for(admin_user)
    response = api.post("/api/sources/", {
        "name": "Suppliers", "key_field": "vat", "priority": 5,
        "fields": [{"name": "vat", "type": "string"}, {"name": "name", "type": "string", "required": True}],
    }, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "suppliers"
    assert response.json()["fields"][0] == {"name": "vat", "type": "string", "required": True, "description": "",
                                            "max_length": None}
    assert response.json()["missing_values"] == []
    patched = api.patch("/api/sources/suppliers/", {"priority": 9, "active": False}, format="json")
    assert patched.status_code == 200 and patched.json()["priority"] == 9 and patched.json()["active"] is False
    bad = api.post("/api/sources/", {"name": "X", "key_field": "nope", "fields": [{"name": "id"}]}, format="json")
    assert bad.status_code == 400 and "key field 'nope'" in bad.json()["detail"]
    assert Activity.objects.filter(kind=Activity.Kind.CONFIGURE).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: only there does a batch hold its source's lock")
@pytest.mark.django_db(transaction=True)
def test_a_record_streamed_while_a_batch_writes_its_source_is_told_to_retry(api, people, monkeypatch):
    from mastering.services.ingest import streaming as ingest_service

    monkeypatch.setattr(ingest_service, "STREAM_LOCK_WAIT_SECONDS", 0.2)
    running = IngestBatch.objects.create(source=people, channel=IngestBatch.Channel.API, status=IngestBatch.Status.RUNNING)
    writer = connections.create_connection(DEFAULT_DB_ALIAS)  # stands in for the batch: holds the source's row lock
    try:
        writer.set_autocommit(False)
        with writer.cursor() as cursor:
            cursor.execute("SELECT id FROM mastering_source WHERE id = %s FOR UPDATE", [people.pk])
        busy = put(api, 7, {"name": "Ada"})
        assert busy.status_code == 503 and busy["Retry-After"] == "5"
        assert f"batch #{running.pk} is being written" in busy.json()["detail"]
        assert not SourceRecord.objects.exists()
        writer.rollback()
    finally:
        writer.close()
    done = put(api, 7, {"name": "Ada"})
    assert done.status_code == 200 and done.json()["version"] == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: lock_timeout is PostgreSQL's")
@pytest.mark.django_db(transaction=True)
def test_the_bounded_wait_leaves_the_transaction_and_its_settings_as_they_were(people, monkeypatch):
    from django.db import transaction

    from mastering import services
    from mastering.services.ingest import streaming as ingest_service
    from steward.errors import Busy

    monkeypatch.setattr(ingest_service, "STREAM_LOCK_WAIT_SECONDS", 0.2)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '7s'")
        services.upsert_record(source=people, key="1", data={"name": "Ada"}, user=None)  # got the lock at once
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "7s"

    writer = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        writer.set_autocommit(False)
        with writer.cursor() as held:
            held.execute("SELECT id FROM mastering_source WHERE id = %s FOR UPDATE", [people.pk])
        with transaction.atomic():
            with pytest.raises(Busy):
                services.upsert_record(source=people, key="2", data={"name": "Alan"}, user=None)
            assert SourceRecord.objects.count() == 1  # the caller's transaction is still usable
        writer.rollback()
    finally:
        writer.close()


def test_source_put_needs_the_whole_source_and_patch_changes_part(api_for, admin_user):
    source = source_with_fields("people", key="id", name="string")
    api = api_for(admin_user)
    partial = api.put("/api/sources/people/", {"priority": 7}, format="json")
    assert partial.status_code == 400
    assert set(partial.json()["problems"]) >= {"name", "key_field", "fields", "description", "active", "missing_values"}
    source.refresh_from_db()
    assert source.priority != 7
    whole = {"name": "People", "key_field": "id", "description": "", "active": True, "ingest_mode": "batch",
             "priority": 7, "missing_values": [], "fields": [{"name": "id", "type": "string", "required": True},
                                                             {"name": "name", "type": "string"}]}
    replaced = api.put("/api/sources/people/", whole, format="json")
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["priority"] == 7 and [f["name"] for f in replaced.json()["fields"]] == ["id", "name"]
    assert api.patch("/api/sources/people/", {"priority": 8}, format="json").json()["priority"] == 8


def test_record_put_refuses_unknown_fields(api, people):
    response = api.put("/api/sources/people/records/7/", {"data": {"name": "Ada"}, "dta": {}}, format="json")
    assert response.status_code == 400 and response.json()["detail"] == "Unknown field: dta."
    assert not SourceRecord.objects.filter(key="7").exists()


@pytest.mark.parametrize(("body", "detail"), [
    ('{"data": {"name": "A\\ud800da"}}', "name holds an unpaired surrogate (\\ud800), which is not valid text."),
    ('{"data": {"name": "Ada", "n\\udc00": "x"}}',
     "The field name n\\udc00 has an unpaired surrogate (\\udc00), which is not valid text."),
    ('{"data": {"name": "Ada", "no\\u0000te": "x"}}',
     "The field name no\\u0000te has a NUL character (shown here as \\u0000), which cannot be stored."),
])
def test_stream_put_refuses_text_that_cannot_be_stored_and_writes_nothing(api, people, body, detail):
    response = api.generic("PUT", "/api/sources/people/records/7/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == detail
    assert not SourceRecord.objects.exists() and not IngestBatch.objects.exists()

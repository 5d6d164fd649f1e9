"""A source's own ingest rules: values it treats as missing, and fields that take longer values than the default."""

import io
import json

import pytest

from lineage.models import Activity
from mastering.ingest import csv_reading
from mastering.models import IngestBatch, Source, SourceField, SourceRecord
from mastering.services import ingest as ingest_service
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db

NA_REASON = "is required but counts as missing in this source (its missing values: NA, N/A)"


@pytest.fixture
def people():
    source = source_with_fields("people", key="id", id="string", name="string!", born="integer", country="string")
    Source.objects.filter(pk=source.pk).update(missing_values=["NA", "N/A"])
    source.refresh_from_db()
    return source


@pytest.fixture
def api(api_for, engineer):
    return api_for(engineer)


def send(source, data: str, name: str) -> IngestBatch:
    return ingest_service.receive_table(source=source, stream=io.BytesIO(data.encode()), file_name=name, user=None,
                                        channel=IngestBatch.Channel.API, background=False)


def data_of(key: str) -> dict:
    return SourceRecord.objects.get(key=key).data


def test_csv_upload_stores_missing_values_as_empty_cells(people):
    batch = send(people, "id,name,born,country\n1,Ada,NA,n/a\n2,Alan, na ,Namibia\n3,Grace,1906,NAN\n", "people.csv")
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    assert data_of("1") == {"id": "1", "name": "Ada", "born": None, "country": None}
    assert data_of("2")["born"] is None and data_of("2")["country"] == "Namibia"  # only whole cells are missing
    assert data_of("3") == {"id": "3", "name": "Grace", "born": 1906, "country": "NAN"}


def test_a_missing_value_is_stored_exactly_as_an_empty_cell(people):
    send(people, "id,name,born,country\n1,Ada,NA,\n", "first.csv")
    again = send(people, "id,name,born,country\n1,Ada,,N/A\n", "second.csv")
    assert again.unchanged == 1 and again.updated == 0  # same content, same hash: no new version
    assert SourceRecord.objects.get(key="1").version == 1


def test_json_upload_stores_missing_values_as_empty(people):
    items = [{"id": "1", "name": "Ada", "born": "NA", "country": "N/A"}, {"id": "2", "name": "Alan", "born": 1912}]
    batch = send(people, json.dumps(items), "people.json")
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems
    assert data_of("1") == {"id": "1", "name": "Ada", "born": None, "country": None}
    assert data_of("2")["born"] == 1912


def test_streamed_record_stores_missing_values_as_empty(api, people):
    response = api.put("/api/sources/people/records/7/", {"data": {"name": "Ada", "born": "na", "country": "N/A"}},
                       format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["data"] == {"id": "7", "name": "Ada", "born": None, "country": None}


def test_a_required_field_holding_a_missing_value_is_a_row_problem(people):
    batch = send(people, "id,name,born,country\n1,Ada,1815,\n2,NA,1912,\n3,,1906,\n", "people.csv")
    assert batch.status == IngestBatch.Status.REJECTED
    assert batch.problems == [
        {"row": 3, "column": "name", "value": "NA", "reason": NA_REASON},
        {"row": 4, "column": "name", "value": "", "reason": "is required but empty"},
    ]
    assert not SourceRecord.objects.exists()


def test_a_key_holding_a_missing_value_is_a_row_problem(people):
    batch = send(people, "id,name\nNA,Ada\n", "people.csv")
    assert batch.problems == [{"row": 2, "column": "id", "value": "NA", "reason":
                               "counts as missing in this source (its missing values: NA, N/A); every record needs a key"}]


def test_a_streamed_record_with_a_required_missing_value_is_refused(api, people):
    response = api.put("/api/sources/people/records/7/", {"data": {"name": "N/A"}}, format="json")
    assert response.status_code == 400
    assert response.json()["problems"] == [{"column": "name", "value": "N/A", "reason": NA_REASON}]
    assert not SourceRecord.objects.exists()


def test_a_source_without_missing_values_keeps_na_as_text():
    source = source_with_fields("plain", key="id", id="string", born="string", age="integer")
    batch = send(source, "id,born,age\n1,NA,\n", "plain.csv")
    assert batch.status == IngestBatch.Status.SUCCEEDED
    assert data_of("1") == {"id": "1", "born": "NA", "age": None}
    rejected = send(source, "id,born,age\n2,x,NA\n", "plain.csv")
    assert rejected.problems[0]["reason"] == "is not a whole number"


def test_sources_api_takes_and_shows_missing_values_and_field_limits(api_for, admin_user):
    api = api_for(admin_user)
    response = api.post("/api/sources/", {
        "name": "Products", "key_field": "sku", "missing_values": [" NA ", "na", "N/A", "null"],
        "fields": [{"name": "sku", "type": "string", "max_length": 20},
                   {"name": "description", "type": "string", "max_length": 200_000}, {"name": "price", "type": "decimal"}],
    }, format="json")
    assert response.status_code == 201, response.json()
    shown = api.get("/api/sources/products/").json()
    assert shown["missing_values"] == ["NA", "N/A", "null"]
    assert [(f["name"], f["max_length"]) for f in shown["fields"]] == [("sku", 20), ("description", 200_000), ("price", None)]
    assert Activity.objects.get(summary="Created source Products").parameters["missing_values"] == ["NA", "N/A", "null"]
    patched = api.patch("/api/sources/products/", {"missing_values": []}, format="json")
    assert patched.status_code == 200 and patched.json()["missing_values"] == []
    assert Source.objects.get(slug="products").missing_values == []
    new = api.post("/api/sources/", {"name": "Plain", "key_field": "id", "fields": [{"name": "id"}]}, format="json")
    assert new.json()["missing_values"] == []  # opt-in: a new source keeps every value unless told otherwise


@pytest.mark.parametrize("limit", [0, 1_000_001])
def test_sources_api_refuses_a_field_limit_out_of_range(api_for, admin_user, limit):
    response = api_for(admin_user).post("/api/sources/", {
        "name": "Products", "key_field": "sku", "fields": [{"name": "sku", "max_length": limit}]}, format="json")
    assert response.status_code == 400 and "max_length" in json.dumps(response.json())


def test_admin_sets_missing_values_and_field_limits(client_for, admin_user, people):
    client = client_for(admin_user)
    fields = list(people.fields.all())
    form = {
        "name": people.name, "slug": people.slug, "description": "", "key_field": "id", "active": "on",
        "ingest_mode": "batch", "priority": "0", "missing_values": " NA, n/a ,null, NULL ",
        "fields-TOTAL_FORMS": str(len(fields)), "fields-INITIAL_FORMS": str(len(fields)),
        "fields-MIN_NUM_FORMS": "0", "fields-MAX_NUM_FORMS": "1000",
    }
    for index, field in enumerate(fields):
        form.update({f"fields-{index}-id": str(field.pk), f"fields-{index}-source": str(people.pk),
                     f"fields-{index}-position": str(field.position), f"fields-{index}-name": field.name,
                     f"fields-{index}-type": field.type, f"fields-{index}-description": "",
                     f"fields-{index}-max_length": "50000" if field.name == "country" else ""})
        if field.required:
            form[f"fields-{index}-required"] = "on"
    page = client.get(f"/admin/mastering/source/{people.pk}/change/")
    assert 'value="NA, N/A"' in page.content.decode() and "NA, N/A, null, None, -" in page.content.decode()
    response = client.post(f"/admin/mastering/source/{people.pk}/change/", form)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    people.refresh_from_db()
    assert people.missing_values == ["NA", "n/a", "null"]
    assert SourceField.objects.get(source=people, name="country").max_length == 50_000


def test_a_value_over_a_short_field_limit_is_refused_with_the_limit_and_how_to_raise_it():
    source = source_with_fields("codes", key="id", id="string", code="string")
    SourceField.objects.filter(source=source, name="code").update(max_length=5)
    batch = send(source, "id,code\n1,ABCDE\n2,ABCDEF\n", "codes.csv")
    assert batch.status == IngestBatch.Status.REJECTED
    assert [(p["row"], p["column"], p["value"]) for p in batch.problems] == [(3, "code", "ABCDEF")]
    assert batch.problems[0]["reason"] == (
        "is longer than this field's limit of 5 characters; raise the field's max length "
        "(max_length in the admin or the sources API, up to 1,000,000) to accept longer values")


def test_a_value_over_the_default_limit_is_refused_and_names_it():
    source = source_with_fields("products", key="id", id="string", description="string")
    batch = send(source, f"id,description\n1,{'x' * 10_001}\n", "products.csv")
    assert batch.status == IngestBatch.Status.REJECTED
    assert "limit of 10,000 characters" in batch.problems[0]["reason"]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_a_long_text_field_keeps_a_long_value_whole(kind, monkeypatch):
    # A row longer than Arrow's read block is read again with a larger block; a small block shows it here.
    monkeypatch.setattr(csv_reading, "ARROW_BLOCK_BYTES", 64 * 1024)
    source = source_with_fields("products", key="id", id="string", description="string", price="decimal")
    SourceField.objects.filter(source=source, name="description").update(max_length=1_000_000)
    long_text = ("Fünf Wörter, und noch ein \"Zitat\". " * 6_000)[:200_000]
    rows = [{"id": str(i), "description": long_text if i == 3 else f"item {i}", "price": "1.50"} for i in range(6)]
    if kind == "csv":
        text = "id,description,price\n" + "".join(f'{r["id"]},"{r["description"].replace(chr(34), 2 * chr(34))}",{r["price"]}\n'
                                                  for r in rows)
    else:
        text = json.dumps(rows, ensure_ascii=False)
    batch = send(source, text, f"products.{kind}")
    assert batch.status == IngestBatch.Status.SUCCEEDED, batch.problems or batch.error
    assert batch.created == 6
    assert data_of("3")["description"] == long_text and data_of("4") == {"id": "4", "description": "item 4", "price": "1.50"}


def test_a_streamed_record_may_hold_a_long_value_its_field_allows(api):
    source = source_with_fields("products", key="id", id="string", description="string")
    SourceField.objects.filter(source=source, name="description").update(max_length=100_000)
    long_text = "y" * 60_000
    response = api.put("/api/sources/products/records/1/", {"data": {"description": long_text}}, format="json")
    assert response.status_code == 200, response.json()
    assert data_of("1")["description"] == long_text
    too_long = api.put("/api/sources/products/records/2/", {"data": {"description": "y" * 100_001}}, format="json")
    assert too_long.status_code == 400 and "limit of 100,000 characters" in too_long.json()["detail"]

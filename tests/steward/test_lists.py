"""Every list answers the same way: a JSON page, or with ?format=csv streamed CSV with its header row, even empty."""

import csv
import io

import pytest
from drf_spectacular.generators import SchemaGenerator

from feedback.services import file_issue
from tests.factories import IngestBatchFactory, SourceFactory, api_world, entity_type_with_records, fill_path

pytestmark = pytest.mark.django_db


def list_paths() -> list[str]:
    """The GET operations the schema says are lists (they offer CSV)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(path for path, ops in schema["paths"].items()
                  if "text/csv" in ops.get("get", {}).get("responses", {}).get("200", {}).get("content", {}))


def test_every_list_is_a_page_of_json(api_for, admin_user):
    world = api_world(admin_user)
    api = api_for(admin_user)
    paths = list_paths()
    assert {"/api/batches/{id}/problems/", "/api/entity-types/{slug}/jobs/", "/api/entity-types/{slug}/models/",
            "/api/entity-types/{slug}/mappings/propose/", "/api/entity-types/{slug}/changes/"} <= set(paths)
    not_pages = {}
    for path in paths:
        body = api.get(fill_path(path, world), {"source": world["sources"], "page_size": 1}).json()
        if not (isinstance(body, dict) and {"count", "next", "previous", "results"} <= set(body) and len(body["results"]) <= 1):
            not_pages[path] = body
    assert not_pages == {}
    changes = api.get(fill_path("/api/entity-types/{slug}/changes/", world), {"page_size": 2}).json()
    assert changes["count"] == sum(changes["counts"].values()) > 2 and len(changes["results"]) == 2 and changes["next"]


def test_every_list_streams_csv_with_its_header_and_every_row_even_when_nothing_matches(api_for, admin_user):
    entity_type, _ = entity_type_with_records(4, slug="unlabelled")
    empty_source = SourceFactory(slug="nothing-yet")
    issue = file_issue(reporter=admin_user, title="Nothing yet", kind="missing_record", target={"source": empty_source.slug})
    world = {"entity-types": entity_type.slug, "sources": empty_source.slug, "batches": str(IngestBatchFactory(source=empty_source).pk),
             "issues": str(issue.pk)}
    api = api_for(admin_user)
    wrong, empty = {}, set()
    for path in list_paths():
        url, query = fill_path(path, world), {"source": empty_source.slug, "page_size": 1000}
        count = api.get(url, query).json()["count"]
        response = api.get(url, {**query, "format": "csv"})
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        if not (response["Content-Type"].startswith("text/csv") and rows and rows[0] and len(rows) == 1 + count):
            wrong[path] = (response.status_code, response.get("Content-Type"), rows[:2], count)
        if count == 0:
            empty.add(path)
    assert wrong == {}
    assert {"/api/entity-types/{slug}/labels/", "/api/entity-types/{slug}/jobs/", "/api/entity-types/{slug}/models/",
            "/api/entity-types/{slug}/changes/", "/api/sources/{slug}/records/", "/api/batches/{id}/problems/",
            "/api/issues/{id}/comments/", "/api/notifications/"} <= empty


def test_csv_of_a_list_has_every_row_with_nested_objects_as_dotted_columns(api_for, admin_user):
    world = api_world(admin_user)
    response = api_for(admin_user).get("/api/batches/", {"format": "csv"})
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].split(",")[:3] == ["id", "url", "source"] and "counts.received" in lines[0].split(",")
    assert len(lines) == 1 + 2  # the header, the seeded batch and the partial one
    assert world["batches"] in {line.split(",")[0] for line in lines[1:]}


def test_an_error_on_a_csv_list_is_json(api_for, admin_user):
    response = api_for(admin_user).get("/api/entity-types/nope/labels/", {"format": "csv"})
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No EntityType matches the given query."}

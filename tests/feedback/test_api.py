"""The issues API: file by persistent id, source and key or attribute; 4xx with nothing written on bad input."""

import csv
import io

import pytest

from feedback.models import Comment, DataIssue
from tests.feedback.conftest import entity_of

pytestmark = pytest.mark.django_db


def file_body(**target) -> dict:
    return {"title": "City is wrong", "kind": "wrong_value", "target": target, "expected_value": "paris"}


def test_file_an_issue_on_a_golden_value_by_entity_id_and_attribute(people, api_for, business_user):
    entity = entity_of("p0")
    response = api_for(business_user).post("/api/issues/", file_body(entity=str(entity.pk), attribute="city"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["target"], body["entity"], body["attribute"], body["reporter"], body["version"]) == (
        "value", str(entity.pk), "city", "bob-business", 1)
    assert DataIssue.objects.get().attribute.name == "city"


def test_file_an_issue_on_a_source_record_by_slug_and_key(people, api_for, engineer):
    response = api_for(engineer).post("/api/issues/", file_body(source="person-src", key="p1"), format="json")
    assert response.status_code == 201
    assert response.json()["record"]["key"] == "p1" and response.json()["entity_type"] == "person"


@pytest.mark.parametrize("target, detail", [
    ({"entity": "00000000-0000-4000-8000-000000000000"}, "No entity with id '00000000-0000-4000-8000-000000000000'."),
    ({"source": "person-src", "key": "nobody"}, "No record with key 'nobody' in source Person-Src."),
    ({"entity_type": "nowhere", "source": "person-src", "key": "p0"}, "No entity type 'nowhere'."),
])
def test_a_target_that_never_existed_is_a_400_naming_it(people, api_for, business_user, target, detail):
    response = api_for(business_user).post("/api/issues/", file_body(**target), format="json")
    assert response.status_code == 400 and response.json()["detail"] == detail
    assert not DataIssue.objects.exists()


def test_script_in_the_description_is_a_400(people, api_for, business_user):
    body = {**file_body(source="person-src"), "description": "see [here](javascript:alert(1))"}
    response = api_for(business_user).post("/api/issues/", body, format="json")
    assert response.status_code == 400 and "javascript" in response.json()["detail"]
    assert not DataIssue.objects.exists()


@pytest.fixture
def issue(people, api_for, business_user) -> DataIssue:
    api_for(business_user).post("/api/issues/", file_body(entity=str(entity_of("p0").pk), attribute="city"), format="json")
    return DataIssue.objects.get()


def test_stale_version_is_a_409_and_the_newer_edit_stays(issue, api_for, steward, business_user):
    client = api_for(steward)
    assert client.patch(f"/api/issues/{issue.pk}/", {"version": 1, "priority": 4}, format="json").status_code == 200
    response = api_for(business_user).patch(f"/api/issues/{issue.pk}/", {"version": 1, "priority": 1}, format="json")
    assert response.status_code == 409 and "Someone changed issue" in response.json()["detail"]
    issue.refresh_from_db()
    assert (issue.priority, issue.version) == (4, 2)


def test_transitions_assign_comment_and_timeline(issue, api_for, steward, curator, business_user):
    client = api_for(steward)
    assert client.post(f"/api/issues/{issue.pk}/transition/", {"version": 1, "status": "acknowledged"}, format="json").status_code == 200
    response = client.post(f"/api/issues/{issue.pk}/assign/", {"version": 2, "assignee": "carol-curator"}, format="json")
    assert response.json()["assignee"] == "carol-curator"
    response = client.post(f"/api/issues/{issue.pk}/comments/", {"body": "@bob-business which source?"}, format="json")
    assert response.status_code == 201 and response.json()["mentions"] == ["bob-business"]
    kinds = [e["kind"] for e in client.get(f"/api/issues/{issue.pk}/timeline/").json()["results"]]
    assert kinds == ["filed", "status", "assigned", "commented"]
    assert api_for(business_user).get("/api/notifications/").json()["count"] == 3


def test_a_business_user_may_not_assign_or_resolve(issue, api_for, business_user):
    client = api_for(business_user)
    assert client.post(f"/api/issues/{issue.pk}/assign/", {"version": 1, "assignee": None}, format="json").status_code == 403
    assert client.post(f"/api/issues/{issue.pk}/resolve/", {"version": 1}, format="json").status_code == 403
    assert client.post(f"/api/issues/{issue.pk}/transition/", {"version": 1, "status": "acknowledged"},
                       format="json").status_code == 403
    assert client.post(f"/api/issues/{issue.pk}/transition/", {"version": 1, "status": "closed"}, format="json").status_code == 200


def test_a_comment_over_10000_characters_is_a_400(issue, api_for, business_user):
    response = api_for(business_user).post(f"/api/issues/{issue.pk}/comments/", {"body": "x" * 10_001}, format="json")
    assert response.status_code == 400 and not Comment.objects.exists()


def test_resolution_that_does_not_fit_the_kind_is_a_400(issue, api_for, steward):
    response = api_for(steward).post(f"/api/issues/{issue.pk}/resolve/", {"version": 1, "action": "merge"}, format="json")
    assert response.status_code == 400 and "not resolved by merge" in response.json()["detail"]
    issue.refresh_from_db()
    assert issue.status == "new"


def test_list_filters_and_csv_export_escape_formulas(people, api_for, business_user, steward):
    client = api_for(business_user)
    client.post("/api/issues/", {**file_body(source="person-src", key="p1"), "title": "=HYPERLINK(\"x\")", "tags": ["crm"]},
                format="json")
    client.post("/api/issues/", {**file_body(entity=str(entity_of("p2").pk)), "kind": "duplicate"}, format="json")
    assert client.get("/api/issues/?kind=duplicate").json()["count"] == 1
    assert client.get("/api/issues/?tag=crm").json()["count"] == 1
    assert client.get("/api/issues/?source=person-src").json()["count"] == 2  # one by record, one by its entity's member
    assert client.get("/api/issues/?q=hyperlink").json()["count"] == 1
    assert client.get("/api/issues/?view=unassigned").json()["count"] == 2
    assert client.get("/api/issues/?assignee=sam-steward").json()["count"] == 0
    titles = [r["title"] for r in client.get("/api/issues/?ordering=title").json()["results"]]
    assert titles == sorted(titles)
    response = client.get("/api/issues/?format=csv&tag=crm")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1 and rows[0]["title"].startswith("'=")


def test_an_unknown_issue_is_a_404(people, api_for, business_user):
    assert api_for(business_user).get("/api/issues/999/").status_code == 404


def test_edit_due_date_and_tags_records_them_on_the_timeline(issue, api_for, business_user):
    client = api_for(business_user)
    response = client.patch(f"/api/issues/{issue.pk}/", {"version": 1, "due_date": "2030-01-31", "tags": ["crm"]},
                            format="json")
    assert response.status_code == 200 and response.json()["due_date"] == "2030-01-31"
    edited = client.get(f"/api/issues/{issue.pk}/timeline/").json()["results"][-1]
    assert edited["changes"] == {"due_date": [None, "2030-01-31"], "tags": ["", "crm"]}


@pytest.mark.parametrize("role", ["steward", "business_user"])
def test_the_browsable_api_shows_an_issue(issue, client_for, request, role):
    page = client_for(request.getfixturevalue(role)).get(f"/api/issues/{issue.pk}/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and "City is wrong" in page.content.decode()

"""The issue's "Bad input" list, over the API and the pages: each a clear 4xx (or a warning on a page), nothing written."""

import pytest

from feedback.models import Comment, DataIssue, IssueAction, IssueEvent
from lineage.models import Activity
from mastering.models import ClusterEdit, EntityType
from tests.feedback.conftest import entity_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(people, api_for, business_user) -> DataIssue:
    response = api_for(business_user).post("/api/issues/", {"title": "Two people", "kind": "wrongly_merged", "target": {
        "source": "person-src", "key": "p0", "other_source": "person-src", "other_key": "p0-dup"}}, format="json")
    assert response.status_code == 201
    return DataIssue.objects.get()


def _nothing_more(counts_before: tuple) -> bool:
    return (DataIssue.objects.count(), IssueEvent.objects.count(), Comment.objects.count(), Activity.objects.count()) == counts_before


def _counts() -> tuple:
    return DataIssue.objects.count(), IssueEvent.objects.count(), Comment.objects.count(), Activity.objects.count()


def test_a_target_of_the_wrong_entity_type_is_a_400_naming_it(people, api_for, business_user):
    EntityType.objects.create(name="Company", slug="company")
    before = _counts()
    response = api_for(business_user).post("/api/issues/", {"title": "x", "kind": "other", "target": {
        "entity_type": "company", "entity": str(entity_of("p1").pk)}}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == f"Entity {entity_of('p1').pk} is a Person, not a Company."
    assert _nothing_more(before)


@pytest.mark.parametrize("body", ["[x](javascript:alert(1))", "<script>alert(1)</script>", "x" * 10_001])
def test_a_bad_comment_is_a_400_with_nothing_written(issue, api_for, business_user, body):
    before = _counts()
    response = api_for(business_user).post(f"/api/issues/{issue.pk}/comments/", {"body": body}, format="json")
    assert response.status_code == 400 and response.json()["detail"]
    assert _nothing_more(before)


@pytest.mark.parametrize("body", ["[x](javascript:alert(1))", "x" * 10_001])
def test_a_bad_comment_on_the_page_is_a_warning_with_nothing_written(issue, client_for, business_user, body):
    before = _counts()
    response = client_for(business_user).post(f"/issues/{issue.pk}/comment/", {"body": body}, follow=True)
    text = response.content.decode()
    assert response.status_code == 200 and ("javascript" in text or "10000" in text or "10,000" in text)
    assert _nothing_more(before)


def test_a_stale_resolution_is_a_409_and_its_action_is_not_applied(issue, api_for, steward):
    client = api_for(steward)
    assert client.post(f"/api/issues/{issue.pk}/transition/", {"version": 1, "status": "acknowledged"}, format="json").status_code == 200
    edits = ClusterEdit.objects.count()
    response = client.post(f"/api/issues/{issue.pk}/resolve/", {"version": 1, "action": "split"}, format="json")
    assert response.status_code == 409 and "Someone changed issue" in response.json()["detail"]
    assert ClusterEdit.objects.count() == edits and not IssueAction.objects.exists()
    assert entity_of("p0") == entity_of("p0-dup")


@pytest.mark.parametrize("action", ["override", "merge", "link", "request_correction", "fixed_at_source"])
def test_an_action_that_does_not_fit_a_wrongly_merged_issue_is_a_400(issue, api_for, steward, action):
    response = api_for(steward).post(f"/api/issues/{issue.pk}/resolve/", {"version": 1, "action": action}, format="json")
    assert response.status_code == 400 and f"not resolved by {action}; actions that fit: split" in response.json()["detail"]
    issue.refresh_from_db()
    assert (issue.status, issue.version) == ("new", 1) and not IssueAction.objects.exists()


def test_an_unknown_action_is_a_400(issue, api_for, steward):
    response = api_for(steward).post(f"/api/issues/{issue.pk}/resolve/", {"version": 1, "action": "delete"}, format="json")
    assert response.status_code == 400

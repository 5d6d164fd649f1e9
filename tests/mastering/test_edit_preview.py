"""The entity page's edit preview: what the edit would do, computed without writing; refusals in the edit's words."""

import html

import pytest

from lineage.models import Activity
from mastering import services as mastering_services
from mastering.models import ClusterEdit, Entity, Job, Membership, ValueOverride
from tests.factories import trained_entity_type
from tests.mastering.test_entity_edits import refusal_cases

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(8)
    with django_capture_on_commit_callbacks(execute=True):
        mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    return entity_type, source


def entity_of(key: str) -> Entity:
    return Membership.objects.select_related("entity__entity_type").get(record__key=key).entity


def state():
    return (Activity.objects.count(), ClusterEdit.objects.count(), ValueOverride.objects.count(),
            sorted(Membership.objects.values_list("record_id", "entity_id")))


def test_each_preview_shows_the_result_and_writes_nothing(mastered, client_for, curator):
    entity_type, _ = mastered
    entity, other = entity_of("p0"), entity_of("p2")
    url = f"/entities/{entity_type.slug}/{entity.pk}/edit/"
    before = state()
    client = client_for(curator)
    cases = [
        ({"action": "merge", "others": [str(other.pk)]}, "Merge 1 entity (2 records) into this one", "person-src:p2-dup"),
        ({"action": "split", "records": ["person-src:p0-dup"]}, "Split 1 record out into a new entity", "The new entity"),
        ({"action": "move", "record": "person-src:p0-dup", "target": str(other.pk)}, "Move one record", "The entity it moves to"),
        ({"action": "override", "attribute": "city", "value": "Lyon"}, "Set City to “Lyon”", "override by"),
    ]
    for form, summary, shown in cases:
        response = client.post(url, {**form, "reason": "checking", "preview": "1"})
        assert response.status_code == 200, form
        page = html.unescape(response.content.decode())
        assert summary in page and shown in page and "Nothing has changed yet" in page, form
        assert 'name="preview"' not in page  # the confirm form posts the edit itself
    assert state() == before

    confirm = client.post(url, {"action": "override", "attribute": "city", "value": "Lyon", "reason": "checking"}, follow=True)
    assert confirm.status_code == 200
    entity.refresh_from_db()
    assert entity.golden["city"] == "Lyon"


def test_a_preview_refuses_what_the_edit_refuses_in_the_same_words(mastered, client_for, api_for, curator):
    entity_type, _ = mastered
    entity = entity_of("p0")
    before = state()
    for action, form, path, body in refusal_cases(entity):
        if action == "pin":
            continue
        detail = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/entities/{entity.pk}/{path}", body, format="json").json()["detail"]
        page = client_for(curator).post(f"/entities/{entity_type.slug}/{entity.pk}/edit/", {"action": action, "preview": "1", **form}, follow=True)
        assert "Check before you" not in page.content.decode(), action
        assert detail in html.unescape(page.content.decode()), (action, detail)
    assert state() == before

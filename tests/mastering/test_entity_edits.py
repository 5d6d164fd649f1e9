"""Entity edits from the page and over the API: one input per edit, the same words for the same refusal, one query
for every record an edit names, and the old /curation/ addresses still lead to the entity pages."""

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mastering import services as mastering_services
from mastering.edit_inputs import SplitInput
from mastering.models import ClusterEdit, Entity, Job, Membership
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(8)
    with django_capture_on_commit_callbacks(execute=True):
        mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    return entity_type, source


def entity_of(key: str) -> Entity:
    return Membership.objects.select_related("entity__entity_type").get(record__key=key).entity


def refusal_cases(entity: Entity) -> list[tuple[str, dict, str, dict]]:
    """(page action, page form, API path under the entity, API body) that each refuse the same thing."""
    other = entity_of("p2")
    return [
        ("pin", {"reason": ""}, "pin/", {"reason": ""}),
        ("pin", {"reason": "x" * 501}, "pin/", {"reason": "x" * 501}),
        ("split", {"records": ["person-src:nobody"], "reason": "x"}, "split/",
         {"records": [{"source": "person-src", "key": "nobody"}], "reason": "x"}),
        ("split", {"records": ["person-src:p0", "person-src:p0-dup"], "reason": "x"}, "split/",
         {"records": [{"source": "person-src", "key": "p0"}, {"source": "person-src", "key": "p0-dup"}], "reason": "x"}),
        ("merge", {"others": ["not-a-uuid"], "reason": "x"}, "merge/", {"others": ["not-a-uuid"], "reason": "x"}),
        ("move", {"record": "person-src:p2", "target": str(other.pk), "reason": "x"}, "move/",
         {"record": {"source": "person-src", "key": "p2"}, "target": str(other.pk), "reason": "x"}),
        ("override", {"attribute": "shoe size", "value": "42", "reason": "x"}, "overrides/",
         {"attribute": "shoe size", "value": "42", "reason": "x"}),
    ]


def test_the_page_and_the_api_refuse_an_edit_in_the_same_words(mastered, client_for, api_for, curator):
    entity_type, _ = mastered
    entity = entity_of("p0")
    for action, form, path, body in refusal_cases(entity):
        api = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/entities/{entity.pk}/{path}", body, format="json")
        assert api.status_code in (400, 409), (action, api.json())
        detail = api.json()["detail"]
        page = client_for(curator).post(f"/entities/{entity_type.slug}/{entity.pk}/edit/", {"action": action, **form}, follow=True)
        assert detail in html.unescape(page.content.decode()), (action, detail)
    assert not ClusterEdit.objects.exists()
    assert entity_of("p0") == entity_of("p0-dup") == entity


def test_the_page_moves_and_merges_with_the_inputs_the_api_takes(mastered, client_for, curator):
    entity_type, _ = mastered
    entity, target = entity_of("p0"), entity_of("p2")
    page = f"/entities/{entity_type.slug}/{entity.pk}/edit/"
    moved = client_for(curator).post(page, {"action": "move", "record": "person-src:p0-dup", "target": str(target.pk),
                                            "reason": "belongs with p2"}, follow=True)
    assert "Record moved." in moved.content.decode() and entity_of("p0-dup") == target
    merged = client_for(curator).post(page, {"action": "merge", "others": str(target.pk), "reason": "one person"}, follow=True)
    assert "now leads here" in merged.content.decode()
    assert entity_of("p2") == entity_of("p0") == entity
    assert list(ClusterEdit.objects.order_by("id").values_list("kind", flat=True)) == ["move", "merge"]


def test_the_merge_search_offers_choices_under_the_field_the_merge_input_reads(mastered, client_for, curator):
    entity_type, _ = mastered
    search = f"/entities/{entity_type.slug}/search/"
    merge_choices = client_for(curator).get(search, {"q": entity_of("p2").golden["last"], "field": "others"}).content.decode()
    move_choices = client_for(curator).get(search, {"q": entity_of("p2").golden["last"]}).content.decode()
    assert 'name="others"' in merge_choices and 'name="target"' in move_choices


def test_a_split_finds_every_record_it_names_in_one_query(mastered):
    entity = entity_of("p0")

    def queries_to_validate(keys: list[str]) -> int:
        payload = SplitInput(data={"records": [{"source": "person-src", "key": k} for k in keys], "reason": "x"},
                             context={"entity": entity})
        with CaptureQueriesContext(connection) as queries:
            assert payload.is_valid(), payload.errors
        return len(queries)

    assert queries_to_validate(["p0"]) == queries_to_validate(["p0", "p0-dup", "p1", "p2", "p2-dup", "p3"])


def test_the_old_curation_addresses_lead_to_the_entity_pages(mastered, client_for, curator):
    entity_type, _ = mastered
    entity = entity_of("p0")
    client = client_for(curator)
    history = client.get(f"/curation/{entity_type.slug}/entities/{entity.pk}/history/?change=1")
    assert (history.status_code, history["Location"]) == (301, f"/entities/{entity_type.slug}/{entity.pk}/history/?change=1")
    assert client.get(f"/curation/{entity_type.slug}/changes/")["Location"] == f"/entities/{entity_type.slug}/changes/"
    assert client.get(f"/curation/{entity_type.slug}/entity-search/?q=ab")["Location"] == f"/entities/{entity_type.slug}/search/?q=ab"
    pinned = client.post(f"/curation/{entity_type.slug}/entities/{entity.pk}/edit/", {"action": "pin", "reason": "checked"})
    assert pinned.status_code == 302 and Entity.objects.get(pk=entity.pk).pinned

"""Every change in an entity's history says who made it (a user or a run) and why, on the entity page, the history
page and the API; the entity page and the API show the entity the presenter builds."""

import html

import pytest

from mastering import history
from mastering import services as mastering_services
from mastering.models import Entity, Job, Membership, SourceRecord
from mastering.services import entities as entity_services
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, _ = trained_entity_type(8)
    with django_capture_on_commit_callbacks(execute=True):
        job = mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    return entity_type, job


def entity_of(key: str) -> Entity:
    return Membership.objects.select_related("entity__entity_type").get(record__key=key).entity


def test_an_override_and_its_removal_are_credited_to_who_made_them_and_why(mastered, curator, steward, client_for, api_for):
    entity_type, job = mastered
    entity = entity_of("p0")
    city = entity_type.attributes.get(name="city")
    override = entity_services.override_value(entity=entity, attribute=city, value="Londres", user=curator, reason="she moved")
    entity_services.remove_override(override=override, user=steward, reason="the move fell through")

    removed, made, run = [change.attribution for change in history.timeline(entity)]
    assert (made.by, made.why) == (curator.username, "she moved")
    assert (removed.by, removed.why) == (steward.username, "Removed the override of city: the move fell through")
    assert (run.by, run.job_id) == (f"run #{job.pk}", job.pk) and run.why.startswith("Master")

    api = api_for(curator).get(f"/api/entity-types/{entity_type.slug}/entities/{entity.pk}/history/").json()["results"]
    assert [(c["by"], c["reason"]) for c in api[:2]] == [(removed.by, removed.why), (made.by, made.why)]
    for page in (f"/entities/{entity_type.slug}/{entity.pk}/", f"/entities/{entity_type.slug}/{entity.pk}/history/"):
        text = html.unescape(client_for(curator).get(page).content.decode())
        assert all(words in text for words in (curator.username, "she moved", steward.username, "the move fell through")), page


def test_a_survivorship_rule_change_is_credited_to_its_run_with_the_rule(mastered, steward, engineer,
                                                                        django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    dup = SourceRecord.objects.get(key="p0-dup")
    mastering_services.upsert_record(source=dup.source, key="p0-dup", data={**dup.data, "first": "adaa"}, user=engineer)
    first = entity_type.attributes.get(name="first")
    with django_capture_on_commit_callbacks(execute=True):
        entity_services.change_rule(attribute=first, rule="longest", user=steward)
    with django_capture_on_commit_callbacks(execute=True):
        job = entity_services.change_rule(attribute=first, rule="min", user=steward)
    changed = [c for e in Entity.objects.live() for c in history.timeline(e) if c.job_id == job.pk]
    assert changed, "the rule changed no golden value"
    assert {(c.attribution.by, c.attribution.why) for c in changed} == {
        (f"run #{job.pk}", "Recompute golden records: first now uses min")}


def test_the_entity_api_shows_what_the_entity_page_shows(mastered, curator, client_for, api_for):
    entity_type, _ = mastered
    entity = entity_of("p0")
    entity_services.override_value(entity=entity, attribute=entity_type.attributes.get(name="city"), value="Londres",
                                   user=curator, reason="she moved")
    detail = api_for(curator).get(f"/api/entity-types/{entity_type.slug}/entities/{entity.pk}/").json()
    page = client_for(curator).get(entity.get_absolute_url())
    view = page.context["view"]
    assert [(v["attribute"], v["value"], v["rule"]) for v in detail["values"]] == \
        [(v.name, v.value, v.rule) for v in view.golden_values]
    assert ("city", "Londres", "override") in [(v["attribute"], v["value"], v["rule"]) for v in detail["values"]]
    assert [(m["source"], m["key"], m["why"]) for m in detail["memberships"]] == [(m.source, m.key, m.why) for m in view.members]
    assert detail["members"] == [{"source": m.source, "key": m.key} for m in view.members]
    assert [v["member_values"] for v in detail["values"]] == [[c.value for c in v.cells] for v in view.golden_values]
    assert [(c["by"], c["reason"]) for c in detail["changes"]] == [tuple(c.attribution[:2]) for c in view.changes]

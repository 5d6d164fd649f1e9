"""Who may remove an override and change rules, thresholds and entity types: mastering/rules.py, enforced by the
services, shown by pages and API."""

import pytest

from lineage.models import Activity
from mastering import services
from mastering.models import Job, Membership, ValueOverride
from mastering.services import entities as entity_services
from steward.errors import NotAllowed
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(16)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    return entity_type, source


@pytest.fixture
def override(mastered, curator) -> ValueOverride:
    entity_type, _ = mastered
    entity = Membership.objects.select_related("entity").get(record__key="p0").entity
    return entity_services.override_value(entity=entity, attribute=entity_type.attributes.get(name="city"), value="Londres",
                                          user=curator, reason="she moved")


def test_remove_override_refuses_a_curator_who_did_not_set_it(override, other_curator):
    with pytest.raises(NotAllowed, match="Only the curator who set an override, or a steward, can remove it."):
        entity_services.remove_override(override=override, user=other_curator)
    override.refresh_from_db()
    assert override.removed_at is None and override.entity.golden["city"] == "Londres"


def test_remove_override_admits_its_curator_and_a_steward(override, curator, steward):
    assert entity_services.remove_override(override=override, user=steward).removed_by == steward
    again = entity_services.override_value(entity=override.entity, attribute=override.attribute, value="Paris",
                                           user=curator, reason="moved again")
    assert entity_services.remove_override(override=again, user=curator).removed_by == curator


def test_removing_another_curators_override_over_the_api_is_403(override, api_for, other_curator):
    response = api_for(other_curator).delete(f"/api/overrides/{override.pk}/")
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the curator who set an override, or a steward, can remove it."


def test_entity_page_offers_remove_override_only_where_the_rule_allows(override, client_for, curator, other_curator, steward):
    url = override.entity.get_absolute_url()
    assert "Remove override" in client_for(curator).get(url).content.decode()
    assert "Remove override" in client_for(steward).get(url).content.decode()
    assert "Remove override" not in client_for(other_curator).get(url).content.decode()


def test_removing_another_curators_override_on_the_page_is_refused_with_a_message(override, client_for, other_curator):
    entity = override.entity
    response = client_for(other_curator).post(f"/curation/{entity.entity_type.slug}/entities/{entity.pk}/edit/",
                                              {"action": "remove_override", "override": override.pk}, follow=True)
    assert "Only the curator who set an override, or a steward, can remove it." in response.content.decode()
    override.refresh_from_db()
    assert override.removed_at is None


def test_rules_and_thresholds_are_refused_to_a_role_without_edit_rules(mastered, curator):
    entity_type, _ = mastered
    with pytest.raises(NotAllowed, match="does not allow changing survivorship rules"):
        entity_services.change_rule(attribute=entity_type.attributes.get(name="city"), rule="longest", user=curator)
    with pytest.raises(NotAllowed, match="does not allow changing survivorship rules"):
        entity_services.set_threshold(entity_type=entity_type, threshold=0.7, user=curator)
    entity_type.refresh_from_db()
    assert entity_type.match_threshold is None and entity_type.attributes.get(name="city").survivorship == "most_frequent"


def test_only_admins_change_an_entity_type(mastered, steward, admin_user):
    entity_type, _ = mastered
    with pytest.raises(NotAllowed, match="Only admins can change an entity type."):
        services.update_entity_type(entity_type=entity_type, actor=steward, retrain_every=3)
    assert services.update_entity_type(entity_type=entity_type, actor=admin_user, retrain_every=3).retrain_every == 3


def test_a_new_threshold_re_clusters_a_mastered_type(mastered, steward, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    with django_capture_on_commit_callbacks(execute=True):
        entity_services.set_threshold(entity_type=entity_type, threshold=0.7, user=steward)
    rerun = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    assert (rerun.status, rerun.started_by, rerun.counts["threshold"]) == (Job.Status.DONE, steward, 0.7)
    assert Activity.objects.filter(kind=Activity.Kind.MASTER, user=steward).exists()
    entity_services.set_threshold(entity_type=entity_type, threshold=0.7, user=steward)
    assert Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).count() == 2  # unchanged: no new run


def test_a_threshold_set_before_the_first_run_starts_none(steward):
    entity_type, _ = trained_entity_type(8)
    entity_services.set_threshold(entity_type=entity_type, threshold=0.7, user=steward)
    assert not Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).exists()

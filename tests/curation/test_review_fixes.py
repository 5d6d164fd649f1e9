"""Odd inputs, role checks and edge cases found in review."""

import pytest

from curation import services
from curation.models import Label
from mastering import services as mastering_services
from mastering.models import AttributeMapping, Job
from tests.factories import entity_type_with_records, make_pairs, trained_entity_type

pytestmark = pytest.mark.django_db


def test_undoing_on_a_shared_pair_keeps_it_claimable(curator, other_curator):
    entity_type, source = entity_type_with_records(6, slug="shared", overlap=2)
    (pair,) = make_pairs(entity_type, source, 1)
    services.answer_pair(pair=services.claim_next_pair(curator=other_curator, entity_type=entity_type), curator=other_curator,
                         answer=Label.Answer.MATCH)
    services.answer_pair(pair=services.claim_next_pair(curator=curator, entity_type=entity_type), curator=curator,
                         answer=Label.Answer.DISTINCT)
    back = services.undo_last_answer(curator=curator, entity_type=entity_type)
    assert back.pk == pair.pk
    assert services.claim_next_pair(curator=curator, entity_type=entity_type).pk == pair.pk


def test_changing_a_sources_fields_keeps_its_mappings(admin_user, api_for):
    entity_type, source = entity_type_with_records(4, slug="kept")
    before = AttributeMapping.objects.filter(source=source).count()
    fields = [{"name": f.name, "type": f.type, "required": f.required} for f in source.fields.all()] + [{"name": "extra"}]
    response = api_for(admin_user).patch(f"/api/sources/{source.slug}/", {"fields": fields}, format="json")
    assert response.status_code == 200, response.json()
    assert AttributeMapping.objects.filter(source=source).count() == before == 3
    removed = api_for(admin_user).patch(f"/api/sources/{source.slug}/", {"fields": fields[:1]}, format="json")
    assert removed.status_code == 400 and "still mapped" in removed.json()["detail"]


def test_search_matches_accented_values_and_not_attribute_names(django_capture_on_commit_callbacks, api_for, business_user, engineer):
    entity_type, source = trained_entity_type(8)
    mastering_services.upsert_record(source=source, key="p1", data={"first": "zoë", "last": "zürich", "city": "köln"}, user=engineer)
    with django_capture_on_commit_callbacks(execute=True):
        mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    api = api_for(business_user)
    found = api.get(f"/api/entity-types/{entity_type.slug}/entities/?q=Zür").json()
    assert found["count"] == 1 and found["results"][0]["golden"]["last"] == "zürich"
    assert api.get(f"/api/entity-types/{entity_type.slug}/entities/?q=city").json()["count"] == 0
    assert api.get(f"/api/sources/{source.slug}/records/?q=köln").json()["count"] == 1


def test_odd_ids_in_the_address_are_not_errors(client_for, curator, django_capture_on_commit_callbacks):
    entity_type, _ = trained_entity_type(6)
    with django_capture_on_commit_callbacks(execute=True):
        mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    client = client_for(curator)
    assert client.get(f"/entities/{entity_type.slug}/changes/?job=abc").status_code == 200
    assert client.get(f"/entities/{entity_type.slug}/search/?q=ada&exclude=nope").status_code == 200
    from mastering.models import Entity

    entity = Entity.objects.live().first()
    response = client.post(f"/curation/{entity_type.slug}/entities/{entity.pk}/edit/",
                           {"action": "merge", "target": "not-a-uuid", "reason": "x"}, follow=True)
    assert response.status_code == 200 and "incomplete" in response.content.decode()
    long_reason = client.post(f"/curation/{entity_type.slug}/entities/{entity.pk}/edit/",
                              {"action": "pin", "reason": "x" * 600}, follow=True)
    assert "under 500 characters" in long_reason.content.decode()


def test_revoking_and_rule_changes_need_their_capabilities_but_previews_are_for_everyone(
        api_for, business_user, curator, steward):
    entity_type, source = entity_type_with_records(4, slug="caps")
    (pair,) = make_pairs(entity_type, source, 1)
    label = services.answer_pair(pair=services.claim_next_pair(curator=curator, entity_type=entity_type), curator=curator,
                                 answer=Label.Answer.MATCH)
    assert api_for(business_user).post(f"/api/labels/{label.pk}/revoke/", {"reason": "x"}, format="json").status_code == 403
    rule = f"/api/entity-types/{entity_type.slug}/attributes/first/rule/"
    for reader in (business_user, curator, steward):
        preview = api_for(reader).get(f"{rule}?rule=longest")
        assert preview.status_code == 200, preview.json()
        assert preview.json()["rule"] == "longest" and preview.json()["attribute"] == "first"
    for outsider in (business_user, curator):
        refused = api_for(outsider).post(rule, {"rule": "longest"}, format="json")
        assert refused.status_code == 403 and "edit rules" in refused.json()["detail"]
    assert not Job.objects.filter(kind=Job.Kind.GOLDEN).exists()
    assert api_for(steward).post(rule, {"rule": "longest"}, format="json").status_code == 202


def test_the_rules_page_previews_for_everyone_and_applies_for_rule_editors(client_for, business_user, steward):
    entity_type, _ = entity_type_with_records(4, slug="caps")
    page = f"/curation/{entity_type.slug}/rules/"
    client = client_for(business_user)
    preview = client.get(page, {"attribute": "first", "rule": "longest"})
    text = preview.content.decode()
    assert preview.status_code == 200
    assert "Preview: first by “longest”" in text and "golden values would change" in text
    assert 'name="apply"' not in text  # reading a preview is not changing the rule
    assert client.post(page, {"attribute": "first", "rule": "longest", "apply": "1"}).status_code == 403
    assert entity_type.attributes.get(name="first").survivorship != "longest"
    assert 'name="apply"' in client_for(steward).get(page, {"attribute": "first", "rule": "longest"}).content.decode()
    applied = client_for(steward).post(page, {"attribute": "first", "rule": "longest", "apply": "1"})
    assert applied.status_code == 302 and entity_type.attributes.get(name="first").survivorship == "longest"


def test_healthz_says_what_is_down_not_why(client, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise RuntimeError("password authentication failed for user secret_admin at db.internal:5432")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "detail": "unreachable"}
    assert b"secret_admin" not in response.content


def test_edits_over_the_api_only_reach_records_of_the_entity_type(api_for, curator, django_capture_on_commit_callbacks):
    entity_type, _ = trained_entity_type(6)
    _, other_source = entity_type_with_records(4, slug="elsewhere")
    with django_capture_on_commit_callbacks(execute=True):
        mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    from mastering.models import Membership

    entity = Membership.objects.get(record__key="p0", entity_type=entity_type).entity
    response = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/entities/{entity.pk}/split/",
                                     {"records": [{"source": other_source.slug, "key": "p0"}], "reason": "x"}, format="json")
    assert response.status_code == 400 and "No record" in response.json()["detail"]
    changes = api_for(curator).get(f"/api/entity-types/{entity_type.slug}/changes/").json()
    assert changes["counts"]["new"] == len(changes["results"]) > 0

"""Curator decisions survive every later run: edits, overrides, rules; history shows who did what and why."""

import pytest

from curation import selectors as curation_selectors
from curation import services
from curation.models import Label
from mastering import history
from mastering import services as mastering_services
from mastering.models import ClusterEdit, Entity, Job, Membership, RunChange, SourceRecord
from mastering.services import entities as entity_services
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db


def master(entity_type, capture) -> Job:
    with capture(execute=True):
        job = mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    return job


def entity_of(key: str) -> Entity:
    return Membership.objects.select_related("entity").get(record__key=key).entity


def record(key: str) -> SourceRecord:
    return SourceRecord.objects.get(key=key)


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(16)
    master(entity_type, django_capture_on_commit_callbacks)
    return entity_type, source


def test_split_survives_reruns_new_data_and_retraining(mastered, curator, engineer, django_capture_on_commit_callbacks):
    entity_type, source = mastered
    entity = entity_of("p0")
    assert entity == entity_of("p0-dup")
    _, new_entity = entity_services.split_records(entity=entity, records=[record("p0-dup").pk], user=curator, reason="different birth year")
    assert entity_of("p0-dup") == new_entity and entity_of("p0") == entity
    distinct = Label.objects.get(origin=Label.Origin.CLUSTER_EDIT)
    assert distinct.answer == Label.Answer.DISTINCT and distinct.curator == curator
    mastering_services.upsert_record(source=source, key="p99", data={"first": "zed", "last": "new", "city": "oslo"}, user=engineer)
    services.train_match_model(entity_type=entity_type)
    master(entity_type, django_capture_on_commit_callbacks)
    assert entity_of("p0-dup").pk == new_entity.pk and entity_of("p0").pk == entity.pk
    assert Membership.objects.get(record__key="p0-dup").reason == Membership.Reason.EDIT


def test_edit_made_labels_are_in_the_next_training(mastered, curator):
    entity_type, _ = mastered
    entity_services.split_records(entity=entity_of("p2"), records=[record("p2-dup").pk], user=curator, reason="test")
    answers = {label.key: label.match for label in curation_selectors.training_labels(entity_type=entity_type)}
    pair = tuple(sorted([record("p2").pk, record("p2-dup").pk]))
    assert answers[pair] is False  # the edit outweighs the earlier 'match' label
    model = services.train_match_model(entity_type=entity_type)
    label = Label.objects.get(origin=Label.Origin.CLUSTER_EDIT)
    assert label.pk in model.label_ids
    services.revoke_label(label=label, by=curator, reason="undo the edit's teaching")
    answers = {l.key: l.match for l in curation_selectors.training_labels(entity_type=entity_type)}
    assert answers[pair] is True  # back to the imported label


def test_merge_survives_a_rerun_and_the_old_id_redirects(mastered, curator, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    survivor, other = entity_of("p0"), entity_of("p1")
    entity_services.merge_entities(survivor=survivor, others=[other], user=curator, reason="same person, new surname")
    other.refresh_from_db()
    assert other.retired_into_id == survivor.pk and entity_of("p1") == survivor
    assert Label.objects.filter(origin=Label.Origin.CLUSTER_EDIT, answer=Label.Answer.MATCH).exists()
    master(entity_type, django_capture_on_commit_callbacks)
    assert entity_of("p1").pk == survivor.pk == entity_of("p0").pk
    from mastering.selectors import resolve_entity

    assert resolve_entity(entity_type=entity_type, entity_id=other.pk) == (Entity.objects.get(pk=survivor.pk), other.pk)


def test_move_survives_a_rerun(mastered, curator, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    source_entity, target = entity_of("p4"), entity_of("p5")
    entity_services.move_record(entity=source_entity, record=record("p4-dup").pk, target=target, user=curator, reason="belongs with p5")
    assert entity_of("p4-dup") == target
    master(entity_type, django_capture_on_commit_callbacks)
    assert entity_of("p4-dup").pk == target.pk and entity_of("p4").pk == source_entity.pk


def test_pin_keeps_members_fixed_and_unpin_releases(mastered, curator, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    entity = entity_of("p6")
    entity_services.split_records(entity=entity, records=[record("p6-dup").pk], user=curator, reason="split first")
    entity_services.pin_entity(entity=entity, user=curator, reason="verified by phone")
    entity.refresh_from_db()
    assert entity.pinned
    with pytest.raises(entity_services.EditRefused, match="pinned"):
        entity_services.split_records(entity=entity, records=[record("p6").pk], user=curator, reason="x")
    master(entity_type, django_capture_on_commit_callbacks)
    assert set(Membership.objects.filter(entity=entity).values_list("record__key", flat=True)) == {"p6"}
    assert Membership.objects.get(record__key="p6").reason == Membership.Reason.PINNED
    entity_services.pin_entity(entity=Entity.objects.get(pk=entity.pk), user=curator, reason="done", pinned=False)
    assert not Entity.objects.get(pk=entity.pk).pinned


def test_override_survives_runs_and_can_be_removed(mastered, curator, django_capture_on_commit_callbacks):
    entity_type, _ = mastered
    entity = entity_of("p0")
    attribute = entity_type.attributes.get(name="city")
    original = entity.golden["city"]
    override = entity_services.override_value(entity=entity, attribute=attribute, value="Londres", user=curator, reason="she moved")
    entity.refresh_from_db()
    assert entity.golden["city"] == "Londres" and entity.provenance["city"]["rule"] == "override"
    assert entity.provenance["city"]["by"] == curator.username
    master(entity_type, django_capture_on_commit_callbacks)
    assert Entity.objects.get(pk=entity.pk).golden["city"] == "Londres"
    entity_services.remove_override(override=override, user=curator)
    assert Entity.objects.get(pk=entity.pk).golden["city"] == original
    master(entity_type, django_capture_on_commit_callbacks)
    assert Entity.objects.get(pk=entity.pk).golden["city"] == original


def test_rule_preview_counts_equal_what_applying_changes(mastered, steward, engineer, django_capture_on_commit_callbacks):
    entity_type, source = mastered
    dup = SourceRecord.objects.get(key="p0-dup")
    mastering_services.upsert_record(source=source, key="p0-dup", data={**dup.data, "first": "adaa"}, user=engineer)
    attribute = entity_type.attributes.get(name="first")
    attribute.survivorship = "longest"
    attribute.save()
    master(entity_type, django_capture_on_commit_callbacks)
    assert entity_of("p0") == entity_of("p0-dup")
    assert entity_of("p0").golden["first"] == "adaa"
    preview = entity_services.preview_rule_change(entity_type=entity_type, attribute=attribute, rule="min")
    before = dict(Entity.objects.live().values_list("pk", "golden"))
    with django_capture_on_commit_callbacks(execute=True):
        job = entity_services.change_rule(attribute=attribute, rule="min", user=steward)
    job.refresh_from_db()
    after = dict(Entity.objects.live().values_list("pk", "golden"))
    changed = sum(1 for pk in before if before[pk]["first"] != after[pk]["first"])
    assert job.status == Job.Status.DONE and changed == preview["would_change"] == job.counts["values_changed"]
    assert preview["would_change"] >= 1
    assert any((e["before"], e["after"]) == ("adaa", "ada") for e in preview["examples"])


def test_history_returns_the_right_past_state(mastered, curator):
    entity_type, _ = mastered
    entity = entity_of("p8")
    first_change = history.timeline(entity)[-1]
    entity_services.split_records(entity=entity, records=[record("p8-dup").pk], user=curator, reason="wrong twin")
    entity.refresh_from_db()
    past = history.state_after(entity, first_change.pk)
    assert past.members == {record("p8").pk, record("p8-dup").pk}
    assert past.members_out == [record("p8-dup").pk] and past.members_in == []
    assert [c.edit.reason for c in past.since if c.edit] == ["wrong twin"]
    latest = history.timeline(entity)[0]
    assert latest.kind == RunChange.Kind.EDITED and latest.edit.user == curator


def test_business_users_read_but_cannot_edit(mastered, api_for, client_for, business_user, curator):
    entity_type, _ = mastered
    entity = entity_of("p0")
    api = api_for(business_user)
    url = f"/api/entity-types/{entity_type.slug}/entities/{entity.pk}"
    assert api.get(f"{url}/history/").status_code == 200
    assert api.post(f"{url}/pin/", {"reason": "x"}, format="json").status_code == 403
    assert api.post(f"{url}/overrides/", {"attribute": "city", "value": "x", "reason": "y"}, format="json").status_code == 403
    assert api.post(f"/api/entity-types/{entity_type.slug}/diagnostics/", {"threshold": 0.4}, format="json").status_code == 403
    assert client_for(business_user).post(f"/curation/{entity_type.slug}/entities/{entity.pk}/edit/", {"action": "pin", "reason": "x"}).status_code == 403
    split = api_for(curator).post(f"{url}/split/", {"records": [{"source": "person-src", "key": "p0-dup"}], "reason": "twins"}, format="json")
    assert split.status_code == 201 and split.json()["split_into"]["members"] == [{"source": "person-src", "key": "p0-dup"}]


def test_edits_need_a_reason_on_the_page(mastered, client_for, curator):
    entity_type, _ = mastered
    entity = entity_of("p0")
    response = client_for(curator).post(f"/curation/{entity_type.slug}/entities/{entity.pk}/edit/", {"action": "pin", "reason": ""}, follow=True)
    assert "Say briefly why" in response.content.decode()
    assert not ClusterEdit.objects.exists()


def test_threshold_and_diagnostics_over_the_api(mastered, api_for, steward):
    entity_type, _ = mastered
    api = api_for(steward)
    data = api.get(f"/api/entity-types/{entity_type.slug}/diagnostics/").json()
    assert data["pairs"] > 0 and len(data["histogram"]) == 20 and data["labels"] == 16
    assert data["curve"][9]["threshold"] == 0.5 and data["curve"][9]["precision"] is not None
    assert api.post(f"/api/entity-types/{entity_type.slug}/diagnostics/", {"threshold": 0.7}, format="json").json() == {"threshold": 0.7}
    entity_type.refresh_from_db()
    assert entity_type.match_threshold == 0.7
    changes = api.get(f"/api/entity-types/{entity_type.slug}/changes/").json()
    assert changes["counts"]["new"] == len(changes["results"])


def test_every_decision_holds_after_new_data_a_retrained_model_and_a_new_run(mastered, curator, engineer, django_capture_on_commit_callbacks):
    entity_type, source = mastered
    wrong = entity_of("p10")
    _, split_out = entity_services.split_records(entity=wrong, records=[record("p10-dup").pk], user=curator, reason="a different person")
    _, half = entity_services.split_records(entity=entity_of("p14"), records=[record("p14-dup").pk], user=curator, reason="looked different")
    halves = (entity_of("p14"), half)
    entity_services.merge_entities(survivor=halves[0], others=[halves[1]], user=curator, reason="two halves of one person")
    entity_services.override_value(entity=halves[0], attribute=entity_type.attributes.get(name="city"), value="Paris",
                                   user=curator, reason="confirmed by phone")
    entity_services.pin_entity(entity=Entity.objects.get(pk=halves[0].pk), user=curator, reason="verified")

    mastering_services.upsert_record(source=source, key="p50", data={"first": "newcomer", "last": "person", "city": "oslo"}, user=engineer)
    services.train_match_model(entity_type=entity_type)
    master(entity_type, django_capture_on_commit_callbacks)

    assert entity_of("p10-dup").pk == split_out.pk and entity_of("p10").pk == wrong.pk
    survivor = Entity.objects.get(pk=halves[0].pk)
    assert survivor.pinned and survivor.golden["city"] == "Paris"
    assert {m.record.key for m in Membership.objects.filter(entity=survivor).select_related("record")} == {"p14", "p14-dup"}
    assert Entity.objects.get(pk=halves[1].pk).retired_into_id == survivor.pk
    reasons = {c.edit.reason for c in history.timeline(survivor) if c.edit}
    assert {"two halves of one person", "verified"} <= reasons
    assert all(c.edit.user == curator for c in history.timeline(survivor) if c.edit)


def test_diagnostics_page_draws_the_curve_when_no_label_is_a_match(mastered, client_for, steward):
    entity_type, _ = mastered
    Label.objects.update(answer=Label.Answer.DISTINCT)  # recall is then undefined at every threshold, precision is not
    response = client_for(steward).get(f"/curation/{entity_type.slug}/diagnostics/")
    assert response.status_code == 200
    assert "precision" in response.content.decode()

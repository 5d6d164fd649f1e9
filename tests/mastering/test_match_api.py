"""The match API (read-only), the stream PUT's answer on a stream-mode source, and match feedback."""

import pytest

from curation.models import Label
from lineage.models import Activity
from mastering.models import Entity, Job, Membership, RecordBlockKey, RunChange, Source, SourceRecord
from mastering.services.matching import MAX_RECORD_BYTES
from tests.factories import entity_type_with_records, trained_entity_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    from mastering import services

    entity_type, source = trained_entity_type(16)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    return entity_type, source


def written() -> tuple:
    """Row counts of everything a match or a refused request must not write."""
    return (SourceRecord.objects.count(), Membership.objects.count(), Entity.objects.count(), RunChange.objects.count(),
            RecordBlockKey.objects.count(), Activity.objects.count(), Label.objects.count())


def data_of(source, key) -> dict:
    return dict(SourceRecord.objects.get(source=source, key=key).data)


def test_match_by_attributes_finds_the_entity_with_explanation_and_writes_nothing(mastered, api_for, business_user):
    entity_type, source = mastered
    p3 = data_of(source, "p3")
    entity = Membership.objects.get(record__key="p3").entity
    before = written()
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/",
                                           {"record": {"first": p3["first"] + "a", "last": p3["last"], "city": p3["city"]}},
                                           format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert written() == before
    assert body["decision"]["entity_id"] == str(entity.pk)
    best = body["candidates"][0]
    assert best["entity_id"] == str(entity.pk) and best["matched"] and best["score"] > body["threshold"]
    assert best["golden"] == entity.golden and best["closest_member"]["key"] in ("p3", "p3-dup")
    attributes = [row["attribute"] for row in best["explanation"] if not row.get("baseline")]
    assert attributes == ["first", "last", "city"]
    assert body["model_version"] == entity_type.active_model.version and body["lookup"]["blocks"] > 0


def test_match_by_source_fields_and_limit(mastered, api_for, business_user):
    entity_type, source = mastered
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/",
                                           {"record": data_of(source, "p5"), "source": source.slug, "limit": 1}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert len(body["candidates"]) == 1
    assert body["decision"]["entity_id"] == str(Membership.objects.get(record__key="p5").entity_id)


def test_a_stranger_gets_no_decision(mastered, api_for, business_user):
    entity_type, _ = mastered
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/",
                                           {"record": {"first": "xavier", "last": "quintero", "city": "lima"}}, format="json")
    assert response.status_code == 200 and response.json()["decision"] is None


def test_a_higher_threshold_turns_a_match_into_no_decision(mastered, api_for, business_user):
    entity_type, source = mastered
    p3 = data_of(source, "p3")
    record = {"first": p3["first"] + "a", "last": p3["last"], "city": "oslo"}
    client = api_for(business_user)
    loose = client.post(f"/api/entity-types/{entity_type.slug}/match/", {"record": record, "threshold": 0.0}, format="json").json()
    score = loose["candidates"][0]["score"]
    strict = client.post(f"/api/entity-types/{entity_type.slug}/match/", {"record": record, "threshold": min(1.0, score + 0.0001)},
                         format="json").json()
    assert loose["decision"] is not None and strict["decision"] is None


@pytest.mark.parametrize(("payload", "status", "words"), [
    ({"record": {"first": "ada", "shoe_size": "9"}}, 400, "shoe_size"),
    ({"record": {"first": "ada"}, "source": "nowhere"}, 404, "nowhere"),
    ({"record": {"first": ["ada"]}}, 400, "not objects or lists"),
    ({"record": "ada"}, 400, "JSON object"),
    ({"record": {}}, 400, "JSON object"),
    ({"record": {"first": "ada"}, "threshold": 1.5}, 400, "between 0 and 1"),
    ({"record": {"first": "ada"}, "threshold": "high"}, 400, "threshold"),
    ({"record": {"first": "ada"}, "limit": 0}, 400, "limit"),
    ({"record": {"first": "ada"}, "limit": "many"}, 400, "limit"),
    ({"record": {"first": "x" * (MAX_RECORD_BYTES + 1)}}, 413, "limited"),
    ({"first": "ada"}, 400, "Unknown field: first"),
])
def test_bad_match_input_is_refused_and_writes_nothing(mastered, api_for, business_user, payload, status, words):
    entity_type, _ = mastered
    before = written()
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/", payload, format="json")
    assert response.status_code == status, response.json()
    assert words in str(response.json())
    assert written() == before


def test_unmapped_source_fields_are_listed(mastered, api_for, business_user):
    from mastering.models import SourceField

    entity_type, source = mastered
    SourceField.objects.create(source=source, name="shoe", type="string")
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/",
                                           {"record": {"first": "ada", "shoe": "9", "hat": "x"}, "source": source.slug},
                                           format="json")
    assert response.status_code == 400
    body = response.json()
    assert "not mapped into Person: shoe" in body["detail"] and "not fields of" in body["detail"] and "hat" in body["detail"]
    assert {"field": "shoe", "reason": "not mapped"} in body["problems"]


def test_unknown_entity_type_is_404(api_for, business_user):
    response = api_for(business_user).post("/api/entity-types/nothing/match/", {"record": {"a": "b"}}, format="json")
    assert response.status_code == 404


def test_match_without_a_model_is_409_train_first(api_for, business_user):
    entity_type, _ = entity_type_with_records(4)
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/", {"record": {"first": "ada"}},
                                           format="json")
    assert response.status_code == 409 and "train first" in response.json()["detail"]


def test_put_on_a_stream_source_says_which_entity_and_whether_new(mastered, api_for, engineer):
    entity_type, source = mastered
    Source.objects.filter(pk=source.pk).update(ingest_mode=Source.IngestMode.STREAM)
    client = api_for(engineer)
    joined = client.put(f"/api/sources/{source.slug}/records/p7-new/", {"data": {**data_of(source, "p7"), "id": "p7-new"}},
                        format="json")
    assert joined.status_code == 200, joined.json()
    body = joined.json()
    assert body["entity_id"] == str(Membership.objects.get(record__key="p7").entity_id) and body["new_entity"] is False
    assert body["placements"][0]["action"] == "joined" and body["version"] == 1
    new = client.put(f"/api/sources/{source.slug}/records/zz/", {"data": {"first": "xavier", "last": "quintero", "city": "lima"}},
                     format="json").json()
    assert new["new_entity"] is True and Entity.objects.get(pk=new["entity_id"]).size == 1
    # Visible at once on the entity page and in the entities export.
    page = api_for(engineer).get(f"/api/entity-types/{entity_type.slug}/entities/?format=csv")
    assert "zz" in b"".join(page.streaming_content).decode()


def test_put_on_a_stream_source_without_a_model_stores_and_answers_409(api_for, engineer):
    entity_type, source = entity_type_with_records(4)
    Source.objects.filter(pk=source.pk).update(ingest_mode=Source.IngestMode.STREAM)
    response = api_for(engineer).put(f"/api/sources/{source.slug}/records/n1/", {"data": {"first": "ada", "last": "b", "city": "c"}},
                                     format="json")
    assert response.status_code == 409 and "train first" in response.json()["detail"]
    assert SourceRecord.objects.filter(source=source, key="n1").exists()


def test_match_feedback_confirm_and_reject_become_labels(mastered, api_for, steward):
    entity_type, source = mastered
    entity = Membership.objects.get(record__key="p3").entity
    client = api_for(steward)
    url = f"/api/entity-types/{entity_type.slug}/match/feedback/"
    confirm = client.post(url, {"record": {"source": source.slug, "key": "p5"}, "entity": str(entity.pk), "answer": "reject"},
                          format="json")
    assert confirm.status_code == 201, confirm.json()
    labels = Label.objects.filter(origin=Label.Origin.MATCH_FEEDBACK)
    assert labels.count() == entity.size and {label.answer for label in labels} == {Label.Answer.DISTINCT}
    assert Activity.objects.filter(kind=Activity.Kind.LABEL, summary__contains="rejected").exists()
    client.post(url, {"record": {"source": source.slug, "key": "p5"}, "entity": str(entity.pk), "answer": "confirm"}, format="json")
    assert {label.answer for label in Label.objects.active().filter(origin=Label.Origin.MATCH_FEEDBACK)} == {Label.Answer.MATCH}


@pytest.mark.parametrize(("change", "status"), [
    ({"answer": "maybe"}, 400),
    ({"record": {"source": "nowhere", "key": "p5"}}, 404),
    ({"entity": "00000000-0000-0000-0000-000000000000"}, 404),
    ({"entity": "not-a-uuid"}, 400),
])
def test_bad_match_feedback_is_refused_and_writes_nothing(mastered, api_for, steward, change, status):
    entity_type, source = mastered
    entity = Membership.objects.get(record__key="p3").entity
    payload = {"record": {"source": source.slug, "key": "p5"}, "entity": str(entity.pk), "answer": "confirm", **change}
    before = written()
    response = api_for(steward).post(f"/api/entity-types/{entity_type.slug}/match/feedback/", payload, format="json")
    assert response.status_code == status
    assert written() == before


def test_match_feedback_needs_the_label_capability(mastered, api_for, business_user):
    entity_type, source = mastered
    entity = Membership.objects.get(record__key="p3").entity
    response = api_for(business_user).post(f"/api/entity-types/{entity_type.slug}/match/feedback/",
                                           {"record": {"source": source.slug, "key": "p5"}, "entity": str(entity.pk),
                                            "answer": "confirm"}, format="json")
    assert response.status_code == 403


def test_find_a_match_box_shows_candidates_and_writes_nothing(mastered, client_for, business_user):
    entity_type, source = mastered
    p3 = data_of(source, "p3")
    entity = Membership.objects.get(record__key="p3").entity
    client = client_for(business_user)
    listing = client.get(f"/entities/{entity_type.slug}/")
    assert b"Find a match" in listing.content and b'name="m_first"' in listing.content
    before = written()
    response = client.get(f"/entities/{entity_type.slug}/match/", {"m_first": p3["first"], "m_last": p3["last"]},
                          HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and written() == before
    text = response.content.decode()
    assert str(entity.pk)[:8] in text and "Matches" in text and "None" not in text and "{'" not in text


def test_find_a_match_box_says_train_first(client_for, business_user):
    entity_type, _ = entity_type_with_records(4)
    response = client_for(business_user).get(f"/entities/{entity_type.slug}/match/", {"m_first": "ada"})
    assert response.status_code == 200 and b"train first" in response.content

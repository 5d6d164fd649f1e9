"""The queue and labels over REST, as another UI or a script would use them."""

import pytest
from django.utils import timezone

from curation.models import CandidatePair, Label
from mastering.models import Job
from tests.factories import entity_type_with_records, make_pairs

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    entity_type, source = entity_type_with_records(8)
    return entity_type, source, make_pairs(entity_type, source, 5)


def test_claim_answer_and_undo_over_the_api(api_for, curator, setup):
    entity_type, _, pairs = setup
    api = api_for(curator)
    claimed = api.post(f"/api/entity-types/{entity_type.slug}/queue/next/")
    assert claimed.status_code == 200
    body = claimed.json()
    assert body["id"] == pairs[0].pk
    assert set(body) >= {"id", "left", "right", "score", "lease_expires", "attributes"}
    assert body["left"]["data"] and body["attributes"][0]["name"] == "first"
    answered = api.post(f"/api/pairs/{body['id']}/answer/", {"answer": "match", "seconds_spent": 3}, format="json")
    assert answered.status_code == 201 and answered.json()["answer"] == "match"
    again = api.post(f"/api/pairs/{body['id']}/answer/", {"answer": "distinct"}, format="json")
    assert again.status_code == 409 and "fetch the next pair" in again.json()["detail"]
    undone = api.post(f"/api/entity-types/{entity_type.slug}/queue/undo/")
    assert undone.status_code == 200 and undone.json()["id"] == body["id"]


def test_answering_shows_the_pair_and_its_model_and_a_pair_that_is_not_there_is_a_404(api_for, curator, setup):
    from mastering.models import MatchModel

    entity_type, _, pairs = setup
    model = MatchModel.objects.create(entity_type=entity_type, version=7, learned_settings=b"", match_count=1, distinct_count=1,
                                      active=False)
    api = api_for(curator)
    pair = api.post(f"/api/entity-types/{entity_type.slug}/queue/next/").json()
    CandidatePair.objects.filter(pk=pair["id"]).update(model=model)  # a model proposed it
    answered = api.post(f"/api/pairs/{pair['id']}/answer/", {"answer": "distinct"}, format="json").json()
    left, right = pairs[0].left, pairs[0].right
    assert (answered["pair"], answered["entity_type"], answered["model_version"], answered["curator"]) == (
        pairs[0].pk, entity_type.slug, 7, curator.username)
    assert answered["left"] == {"source": left.source.slug, "key": left.key}
    assert answered["right"] == {"source": right.source.slug, "key": right.key}
    for missing in ("abc", "0", str(pairs[-1].pk + 1000), str(2**64)):
        assert api.post(f"/api/pairs/{missing}/answer/", {"answer": "match"}, format="json").status_code == 404


def test_next_is_204_with_retry_after_while_pairs_are_prepared(api_for, curator):
    entity_type, _ = entity_type_with_records(8)
    Job.objects.create(entity_type=entity_type, kind=Job.Kind.PREPARE_QUEUE, status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    response = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/queue/next/")
    assert response.status_code == 204
    assert response["Retry-After"] == "3" and response["X-Queue-State"] == "preparing"


def test_business_users_cannot_label(api_for, client_for, business_user, setup):
    entity_type, _, pairs = setup
    api = api_for(business_user)
    assert api.post(f"/api/entity-types/{entity_type.slug}/queue/next/").status_code == 403
    assert api.post(f"/api/pairs/{pairs[0].pk}/answer/", {"answer": "match"}, format="json").status_code == 403
    assert client_for(business_user).get(f"/curation/{entity_type.slug}/queue/").status_code == 403


def test_labels_list_filters_and_exports_csv(api_for, curator, other_curator, setup):
    entity_type, _, _ = setup
    for user, answer in [(curator, "match"), (other_curator, "distinct")]:
        api = api_for(user)
        pair = api.post(f"/api/entity-types/{entity_type.slug}/queue/next/").json()
        api.post(f"/api/pairs/{pair['id']}/answer/", {"answer": answer}, format="json")
    api = api_for(curator)
    listed = api.get(f"/api/entity-types/{entity_type.slug}/labels/?curator={other_curator.username}").json()
    assert listed["count"] == 1 and listed["results"][0]["answer"] == "distinct"
    by_answer = api.get(f"/api/entity-types/{entity_type.slug}/labels/?answer=match").json()
    assert by_answer["count"] == 1 and by_answer["results"][0]["curator"] == curator.username
    csv = b"".join(api.get(f"/api/entity-types/{entity_type.slug}/labels/?format=csv").streaming_content).decode().splitlines()
    assert csv[0].startswith("id,left_source,left_key,right_source,right_key,answer,origin,curator") and len(csv) == 3


def test_label_csv_import_over_the_api(api_for, curator, setup):
    import io

    entity_type, source, _ = setup
    upload = io.BytesIO(f"left_source,left_key,right_source,right_key,answer\n{source.slug},p0,{source.slug},p4,distinct\n".encode())
    upload.name = "labels.csv"
    response = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/labels/", {"file": upload}, format="multipart")
    assert response.status_code == 201 and response.json() == {"imported": 1}
    assert Label.objects.get().answer == Label.Answer.DISTINCT


def test_revoke_over_the_api_only_by_its_curator_or_a_steward(api_for, curator, other_curator, steward, setup):
    entity_type, _, _ = setup
    api = api_for(curator)
    pair = api.post(f"/api/entity-types/{entity_type.slug}/queue/next/").json()
    label = api.post(f"/api/pairs/{pair['id']}/answer/", {"answer": "match"}, format="json").json()
    assert api_for(other_curator).post(f"/api/labels/{label['id']}/revoke/", {"reason": "x"}, format="json").status_code == 403
    revoked = api_for(steward).post(f"/api/labels/{label['id']}/revoke/", {"reason": "wrong"}, format="json")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]


def test_jobs_can_be_cancelled_while_queued(api_for, curator, setup):
    entity_type, _, _ = setup
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.TRAIN)
    response = api_for(curator).post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert api_for(curator).post(f"/api/jobs/{job.pk}/cancel/").status_code == 409


def test_starting_a_second_live_job_of_a_kind_is_refused(api_for, curator, setup):
    entity_type, _, _ = setup
    Job.objects.create(entity_type=entity_type, kind=Job.Kind.TRAIN, status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    response = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/jobs/", {"kind": "train"}, format="json")
    assert response.status_code == 409 and "already running" in response.json()["detail"]


def test_a_running_job_whose_worker_died_does_not_block_a_new_one(api_for, curator, setup, django_capture_on_commit_callbacks):
    entity_type, _, _ = setup
    stale = Job.objects.create(entity_type=entity_type, kind=Job.Kind.PREPARE_QUEUE, status=Job.Status.RUNNING,
                               heartbeat_at=timezone.now() - timezone.timedelta(hours=1))
    from mastering.services import start_job

    with django_capture_on_commit_callbacks(execute=True):
        job = start_job(entity_type=entity_type, kind=Job.Kind.PREPARE_QUEUE)
    stale.refresh_from_db()
    assert stale.status == Job.Status.FAILED and "stopped reporting" in stale.error
    job.refresh_from_db()
    assert job.status == Job.Status.DONE


def test_entity_type_api_creates_with_mappings(api_for, admin_user, setup):
    _, source, _ = setup
    response = api_for(admin_user).post("/api/entity-types/", {
        "name": "Contact", "attributes": [{"name": "surname", "comparator": "String"}],
        "mappings": [{"source": source.slug, "field": "last", "attribute": "surname", "transforms": ["lowercase"]}],
    }, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["mapped"] == [{"source": source.slug, "field": "last", "attribute": "surname", "transforms": ["lowercase"]}]
    proposals = api_for(admin_user).get(f"/api/entity-types/contact/mappings/propose/?source={source.slug}").json()["results"]
    assert {"field": "last", "attribute": "surname"}.items() <= proposals[0].items()


def test_mapping_proposals_without_a_source_are_a_400_saying_what_to_give(api_for, admin_user, setup):
    entity_type, source, _ = setup
    url = f"/api/entity-types/{entity_type.slug}/mappings/propose/"
    for query in ("", "?source=", "?source=%20"):
        response = api_for(admin_user).get(url + query)
        assert response.status_code == 400
        assert response.json()["detail"] == "Give the source to propose mappings for: ?source=<source slug>."
    missing = api_for(admin_user).get(f"{url}?source=no-such-source")
    assert missing.status_code == 404 and missing.json()["detail"] == "No source 'no-such-source'."
    assert api_for(admin_user).get(f"{url}?source={source.slug}").status_code == 200


def test_curators_cannot_create_entity_types(api_for, curator):
    assert api_for(curator).post("/api/entity-types/", {"name": "X", "attributes": [{"name": "a"}]}, format="json").status_code == 403

"""What a claim and an answer cost in SQL, pinned: fifty curators at once multiply every query (issue 12's load probe).

Counts include the transaction's SAVEPOINT/RELEASE (BEGIN/COMMIT outside a test), as Django logs them.
"""

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation import services
from curation.models import CandidatePair, Label
from mastering.models import Job
from tests.conftest import make_user
from mastering.models import SourceRecord
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db

# token and user, permissions, entity type, SAVEPOINT, pick and load the pair, compare-and-set, RELEASE
CLAIM_QUERIES = 7
# token and user, permissions, pair with records, SAVEPOINT, label, release and settle, activity, its objects,
# the learning decision, RELEASE
ANSWER_QUERIES = 10


def open_pairs(entity_type, source, count: int) -> list[CandidatePair]:
    """Open pairs, most urgent first, among records the training labels did not pair."""
    ids = list(SourceRecord.objects.filter(source=source).order_by("pk").values_list("pk", flat=True))
    taken = set(CandidatePair.objects.values_list("left_id", "right_id"))
    chosen = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:] if (a, b) not in taken][:count]
    return [CandidatePair.objects.create(entity_type=entity_type, left_id=a, right_id=b, priority=n,
                                         origin=CandidatePair.Origin.ACTIVE_LEARNING) for n, (a, b) in enumerate(chosen)]


@pytest.fixture
def queue_world(curator):
    entity_type, source = trained_entity_type(16, retrain_every=1000)
    pairs = open_pairs(entity_type, source, 40)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=curator).key}")
    return entity_type, pairs, api


def claim(api, entity_type) -> dict:
    response = api.post(f"/api/entity-types/{entity_type.slug}/queue/next/")
    assert response.status_code == 200
    return response.json()


def answer(api, pair_id: int, said: str = "match"):
    response = api.post(f"/api/pairs/{pair_id}/answer/", {"answer": said}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_claim_and_answer_cost_a_fixed_handful_of_queries(queue_world, django_assert_max_num_queries):
    entity_type, _, api = queue_world
    answer(api, claim(api, entity_type)["id"])  # the first request of a process loads its caches
    with django_assert_max_num_queries(CLAIM_QUERIES):
        pair = claim(api, entity_type)
    assert pair["score"] is not None and pair["attributes"][0]["contribution"] is not None
    with django_assert_max_num_queries(ANSWER_QUERIES):
        label = answer(api, pair["id"], "distinct")
    assert label["answer"] == "distinct"
    assert CandidatePair.objects.get(pk=pair["id"]).status == CandidatePair.Status.DONE


def test_costs_do_not_grow_with_the_labels_or_the_queue(queue_world, django_assert_max_num_queries, other_curator):
    entity_type, pairs, api = queue_world
    for pair in pairs[:30]:  # someone else answered most of the queue before
        pair.answers_needed = 2
        pair.save(update_fields=["answers_needed"])
        Label.objects.create(pair=pair, curator=other_curator, answer=Label.Answer.MATCH)
    answer(api, claim(api, entity_type)["id"])
    with django_assert_max_num_queries(CLAIM_QUERIES):
        pair = claim(api, entity_type)
    with django_assert_max_num_queries(ANSWER_QUERIES):
        answer(api, pair["id"], "match")
    assert CandidatePair.objects.get(pk=pair["id"]).status == CandidatePair.Status.DONE  # two answers, both match


def test_claiming_again_returns_the_held_pair_at_the_same_cost(queue_world, django_assert_max_num_queries):
    entity_type, _, api = queue_world
    answer(api, claim(api, entity_type)["id"])
    first = claim(api, entity_type)
    with django_assert_max_num_queries(CLAIM_QUERIES):
        again = claim(api, entity_type)
    assert again["id"] == first["id"]


def test_a_held_pair_comes_back_before_more_urgent_ones(queue_world, curator):
    entity_type, pairs, _ = queue_world
    later = pairs[-1]
    CandidatePair.objects.filter(pk=later.pk).update(claimed_by=curator, claimed_until=timezone.now() + services.queue.CLAIM_TTL)
    assert services.claim_next_pair(curator=curator, entity_type=entity_type).pk == later.pk


def test_an_answer_starts_training_once_enough_answers_came_after_the_model(queue_world, curator,
                                                                           django_capture_on_commit_callbacks):
    entity_type, _, _ = queue_world
    entity_type.retrain_every = 3
    entity_type.save(update_fields=["retrain_every"])
    for expected in (0, 0, 1):
        pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
        with django_capture_on_commit_callbacks(execute=False):
            services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.DISTINCT)
        assert Job.objects.filter(entity_type=entity_type, kind=Job.Kind.TRAIN).count() == expected


def test_no_second_training_starts_while_one_is_live(queue_world, curator, django_assert_max_num_queries,
                                                     django_capture_on_commit_callbacks):
    entity_type, _, _ = queue_world
    entity_type.retrain_every = 1
    entity_type.save(update_fields=["retrain_every"])
    Job.objects.create(entity_type=entity_type, kind=Job.Kind.TRAIN, status=Job.Status.RUNNING, heartbeat_at=timezone.now())
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    with django_capture_on_commit_callbacks(execute=False), django_assert_max_num_queries(ANSWER_QUERIES - 3):
        services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    assert Job.objects.filter(entity_type=entity_type, kind=Job.Kind.TRAIN).count() == 1


def test_a_low_queue_starts_a_fill(curator, django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(16, retrain_every=1000)
    open_pairs(entity_type, source, 3)
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    with django_capture_on_commit_callbacks(execute=False):
        services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    assert Job.objects.filter(entity_type=entity_type, kind=Job.Kind.PREPARE_QUEUE).count() == 1


def test_a_second_click_of_an_answer_is_refused_and_stores_nothing(queue_world, curator):
    entity_type, _, _ = queue_world
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    with pytest.raises(services.queue.PairNotClaimed):
        services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    assert Label.objects.filter(pair=pair).count() == 1


def test_an_answer_from_a_curator_without_the_pair_leaves_no_label(queue_world, curator):
    entity_type, _, _ = queue_world
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    stranger = make_user("stranger", "curator")
    with pytest.raises(services.queue.PairNotClaimed):
        services.answer_pair(pair=pair, curator=stranger, answer=Label.Answer.MATCH)
    assert not Label.objects.filter(pair=pair).exists()
    assert CandidatePair.objects.get(pk=pair.pk).claimed_by == curator

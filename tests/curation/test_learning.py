"""The active-learning loop through the services: the queue fills itself, labels train models, labeling goes on."""

import pytest

from curation import selectors, services
from curation.models import CandidatePair, Label
from curation.queue_state import next_for
from lineage.models import Activity
from mastering.models import Job, MatchModel, SourceRecord
from tests.factories import entity_type_with_records, truth_of

pytestmark = pytest.mark.django_db


def answer_from_truth(pair: CandidatePair) -> str:
    left, right = SourceRecord.objects.get(pk=pair.left_id), SourceRecord.objects.get(pk=pair.right_id)
    return Label.Answer.MATCH if truth_of(left) == truth_of(right) else Label.Answer.DISTINCT


def test_queue_prepares_itself_when_first_opened(curator, django_capture_on_commit_callbacks):
    entity_type, _ = entity_type_with_records(16, retrain_every=4)
    with django_capture_on_commit_callbacks(execute=True):
        first = next_for(curator=curator, entity_type=entity_type)
    assert first.state == "preparing" and first.retry_after  # the job runs once the request commits
    job = Job.objects.get(kind=Job.Kind.PREPARE_QUEUE)
    assert job.status == Job.Status.DONE and job.counts["added"] > 0
    state = next_for(curator=curator, entity_type=entity_type)
    assert state.state == "pair" and state.pair is not None


def test_labels_retrain_the_model_and_labeling_keeps_going(curator, django_capture_on_commit_callbacks):
    entity_type, _ = entity_type_with_records(16, retrain_every=4)
    answered = 0
    for _ in range(30):
        # Each loop is one request: jobs it starts run when it commits, as they would in production.
        with django_capture_on_commit_callbacks(execute=True):
            state = next_for(curator=curator, entity_type=entity_type)
            if state.pair is not None:
                services.answer_pair(pair=state.pair, curator=curator, answer=answer_from_truth(state.pair))
                answered += 1
        if state.state == "empty" or answered >= 22:
            break
    models = list(MatchModel.objects.filter(entity_type=entity_type).order_by("version"))
    assert answered >= 12, f"only {answered} pairs were handed out"
    assert len(models) >= 2, "retraining every 4 labels should have made several versions"
    assert [m.active for m in models] == [False] * (len(models) - 1) + [True]
    assert models[-1].label_count > models[0].label_count
    assert Activity.objects.filter(kind=Activity.Kind.TRAIN).count() == len(models)
    assert Job.objects.filter(kind=Job.Kind.TRAIN, status=Job.Status.FAILED).count() == 0


def test_training_without_both_answers_is_refused_clearly(curator):
    from curation.services.learning import NotEnoughData

    entity_type, _ = entity_type_with_records(8)
    with pytest.raises(NotEnoughData, match="at least one 'match' and one 'not a match'"):
        services.train_match_model(entity_type=entity_type)


def test_train_job_from_the_api_records_a_model_with_quality(api_for, curator, steward, django_capture_on_commit_callbacks):
    entity_type, source = entity_type_with_records(16)
    records = {r.key: r for r in SourceRecord.objects.filter(source=source)}
    rows = [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i}-dup"}, "answer": "match"}
            for i in range(0, 16, 2)]
    rows += [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i + 1}"}, "answer": "distinct"}
             for i in range(0, 15, 2)]
    assert len(records) == 24
    api = api_for(steward)
    assert api.post(f"/api/entity-types/{entity_type.slug}/labels/", rows, format="json").status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/entity-types/{entity_type.slug}/jobs/", {"kind": "train"}, format="json")
    assert response.status_code == 202
    job = api.get(response.json()["url"]).json()
    assert job["status"] == "done" and job["model_version"] == 1
    models = api.get(f"/api/entity-types/{entity_type.slug}/models/").json()["results"]
    assert models[0]["label_count"] == 16 and models[0]["precision"] is not None and models[0]["active"]


def test_learner_is_bounded_by_the_sample_size(curator):
    from curation.services.learning import learner_for

    entity_type, _ = entity_type_with_records(40, training_sample_size=50)
    learner = learner_for(entity_type)
    assert len(learner.sample_ids) <= 50
    assert selectors.open_pair_count(entity_type=entity_type) == 0

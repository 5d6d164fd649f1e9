"""The claim's hand-written SQL picks and claims exactly as the ORM definition (claimable_by, next_pair_to_claim) says."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from curation import queue_sql, selectors
from curation.models import CandidatePair, Label
from tests.factories import entity_type_with_records, make_pairs

pytestmark = pytest.mark.django_db


def orm_pick(entity_type, curator, now):
    with transaction.atomic():
        return (selectors.next_pair_to_claim(entity_type=entity_type, curator=curator, now=now)
                .select_related("left__source", "right__source").first())


def sql_pick(entity_type, curator, now):
    with transaction.atomic():
        return queue_sql.pick_pair(entity_type_id=entity_type.pk, curator_id=curator.pk, now=now)


def test_the_sql_pick_and_claim_agree_with_the_orm_in_every_state_a_pair_can_be_in(curator, other_curator):
    entity_type, source = entity_type_with_records(8)
    pairs = make_pairs(entity_type, source, 8)
    now = timezone.now()
    soon, gone = now + timedelta(minutes=5), now - timedelta(seconds=1)
    CandidatePair.objects.filter(pk=pairs[0].pk).update(status=CandidatePair.Status.DONE)
    CandidatePair.objects.filter(pk=pairs[1].pk).update(claimed_by=other_curator, claimed_until=soon)
    Label.objects.create(pair=pairs[2], curator=curator, answer=Label.Answer.MATCH)
    Label.objects.create(pair=pairs[3], curator=curator, answer=Label.Answer.MATCH, revoked_at=now)  # taken back
    CandidatePair.objects.filter(pk=pairs[4].pk).update(claimed_by=other_curator, claimed_until=gone)  # lease ran out
    steps = []
    for _ in range(8):
        expected, got = orm_pick(entity_type, curator, now), sql_pick(entity_type, curator, now)
        assert (got and got.pk) == (expected and expected.pk)
        if got is None:
            break
        assert (got.left.data, got.left.source.slug, got.right.key, got.right.source.name, got.claimed_until, got.status) == (
            expected.left.data, expected.left.source.slug, expected.right.key, expected.right.source.name,
            expected.claimed_until, expected.status)
        steps.append(got.pk)
        # The same conditions decide the compare-and-set: the curator wins the pair, then another curator cannot.
        assert queue_sql.claim_pair(pair_id=got.pk, curator_id=curator.pk, now=now, until=soon)
        assert not queue_sql.claim_pair(pair_id=got.pk, curator_id=other_curator.pk, now=now, until=soon)
        held = orm_pick(entity_type, curator, now)
        assert held.pk == got.pk and held.claimed_by_id == curator.pk and held.claimed_until == soon
        Label.objects.create(pair=held, curator=curator, answer=Label.Answer.DISTINCT)
    assert steps == [pairs[i].pk for i in (3, 4, 5, 6, 7)]
    assert not queue_sql.claim_pair(pair_id=pairs[2].pk, curator_id=curator.pk, now=now, until=soon)  # answered
    assert not queue_sql.claim_pair(pair_id=pairs[1].pk, curator_id=curator.pk, now=now, until=soon)  # held by another


def orm_learning(entity_type):
    et = selectors.learning_state_query(entity_type_id=entity_type.pk).get()
    return (et.pk, et.retrain_every, et.model_matches, et.model_distincts, et.trained_from, et.trained_until, et.answers_since,
            et.enough_open, et.training_live, et.filling_live)


def sql_learning(entity_type):
    from mastering.services.liveness import stale_before

    et, matches, distincts, trained_from, trained_until, since, enough, training, filling = queue_sql.learning_row(
        entity_type_id=entity_type.pk, open_needed=selectors.QUEUE_LOW_WATER, stale_before=stale_before())
    return (et.pk, et.retrain_every, matches, distincts, trained_from, trained_until, since, enough, training, filling)


def test_the_sql_learning_decision_reads_what_the_orm_definition_reads(curator):
    from mastering.models import Job, MatchModel
    from mastering.services.liveness import stale_before

    entity_type, source = entity_type_with_records(6)
    pairs = make_pairs(entity_type, source, 4)
    states = [sql_learning(entity_type)]
    assert states[0] == orm_learning(entity_type)  # no model, four open pairs, no jobs
    Label.objects.create(pair=pairs[0], curator=curator, answer=Label.Answer.MATCH)
    CandidatePair.objects.filter(pk__in=[pairs[0].pk, pairs[1].pk]).update(status=CandidatePair.Status.DONE)
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.TRAIN, status=Job.Status.DONE,
                             started_at=timezone.now() - timedelta(minutes=1), finished_at=timezone.now() - timedelta(seconds=50))
    MatchModel.objects.create(entity_type=entity_type, version=1, learned_settings=b"", match_count=1, distinct_count=5,
                              active=False)
    MatchModel.objects.create(entity_type=entity_type, version=2, learned_settings=b"", match_count=4, distinct_count=3,
                              job=job)
    Label.objects.create(pair=pairs[1], curator=curator, answer=Label.Answer.DISTINCT)
    Label.objects.create(pair=pairs[2], curator=curator, answer=Label.Answer.DISTINCT, revoked_at=timezone.now())
    Job.objects.create(entity_type=entity_type, kind=Job.Kind.PREPARE_QUEUE, status=Job.Status.QUEUED)
    stale = Job.objects.create(entity_type=entity_type, kind=Job.Kind.TRAIN, status=Job.Status.RUNNING,
                               heartbeat_at=stale_before() - timedelta(seconds=5))  # stale: not live
    states.append(sql_learning(entity_type))
    assert states[1] == orm_learning(entity_type)
    assert states[1][2:4] + states[1][6:] == (4, 3, 2, False, False, True)
    assert (states[1][4], states[1][5]) == (job.started_at, job.finished_at)
    Job.objects.filter(pk=stale.pk).update(heartbeat_at=timezone.now())  # its worker speaks again
    assert sql_learning(entity_type) == orm_learning(entity_type) and sql_learning(entity_type)[8] is True


def test_on_postgresql_the_answers_since_the_model_are_counted_only_as_far_as_the_decision_needs(curator):
    from django.db import connection

    from mastering.models import MatchModel

    entity_type, source = entity_type_with_records(10)
    entity_type.retrain_every = 2
    entity_type.save(update_fields=["retrain_every"])
    pairs = make_pairs(entity_type, source, 5)
    MatchModel.objects.create(entity_type=entity_type, version=1, learned_settings=b"", match_count=4, distinct_count=4)
    for pair in pairs[:4]:
        Label.objects.create(pair=pair, curator=curator, answer=Label.Answer.DISTINCT)
    assert orm_learning(entity_type)[6] == 4
    # PostgreSQL stops counting at retrain_every; SQLite cannot, and counts them all. The decision is the same.
    assert sql_learning(entity_type)[6] == (2 if connection.vendor == "postgresql" else 4)
    assert selectors.learning_state(entity_type_id=entity_type.pk).retrain_due is True


def test_after_a_training_the_next_waits_as_long_as_it_took_however_many_answers_come(curator, settings):
    from mastering.models import Job, MatchModel

    settings.STEWARD_RETRAIN_PAUSE_PERCENT = 100  # as long as the training took (off by default)
    entity_type, source = entity_type_with_records(10)
    entity_type.retrain_every = 2
    entity_type.save(update_fields=["retrain_every"])
    pairs = make_pairs(entity_type, source, 5)
    now = timezone.now()
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.TRAIN, status=Job.Status.DONE,
                             started_at=now - timedelta(seconds=40), finished_at=now - timedelta(seconds=10))  # took 30 s
    MatchModel.objects.create(entity_type=entity_type, version=1, learned_settings=b"", match_count=4, distinct_count=4,
                              job=job, active=True)
    for pair in pairs[:4]:
        Label.objects.create(pair=pair, curator=curator, answer=Label.Answer.DISTINCT)
    assert selectors.learning_state(entity_type_id=entity_type.pk).retrain_due is False  # 10 s of a 30 s pause
    assert selectors.training_paused(job.started_at, job.finished_at, now + timedelta(seconds=19))
    assert not selectors.training_paused(job.started_at, job.finished_at, now + timedelta(seconds=21))
    settings.STEWARD_RETRAIN_PAUSE_PERCENT = 25  # a 7.5 s pause: over
    assert selectors.learning_state(entity_type_id=entity_type.pk).retrain_due is True
    settings.STEWARD_RETRAIN_PAUSE_PERCENT = 0
    assert not selectors.training_paused(job.started_at, job.finished_at, job.finished_at)


def test_the_pair_an_answer_acts_on_is_read_as_the_orm_select_related_reads_it(curator):
    from mastering.models import MatchModel
    from mastering.selectors import MODEL_HEAVY_FIELDS

    entity_type, source = entity_type_with_records(6)
    pairs = make_pairs(entity_type, source, 2)
    model = MatchModel.objects.create(entity_type=entity_type, version=3, learned_settings=b"blob", match_count=1,
                                      distinct_count=1, metrics={"big": 1})
    CandidatePair.objects.filter(pk=pairs[1].pk).update(model=model, score=0.5)
    orm = CandidatePair.objects.select_related("entity_type", "left__source", "right__source", "model").defer(
        *(f"model__{name}" for name in MODEL_HEAVY_FIELDS))
    for pair in pairs:
        want, got = orm.get(pk=pair.pk), selectors.pair_with_card(str(pair.pk))
        assert got is not None
        for a, b in ((got, want), (got.left, want.left), (got.right, want.right), (got.left.source, want.left.source),
                     (got.right.source, want.right.source), (got.entity_type, want.entity_type)):
            assert type(a) is type(b) and a.pk == b.pk
            assert {f.attname: getattr(a, f.attname) for f in a._meta.concrete_fields} == {
                f.attname: getattr(b, f.attname) for f in b._meta.concrete_fields}
        if want.model is None:
            assert got.model is None
        else:
            assert (got.model.pk, got.model.version, got.model.get_deferred_fields()) == (
                want.model.pk, want.model.version, want.model.get_deferred_fields())
    for missing in ("0", "-1", "abc", str(2**63), str(pairs[1].pk + 1000)):
        assert selectors.pair_with_card(missing) is None

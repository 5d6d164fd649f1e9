"""Claims, leases, answers, skips and undo in the multi-curator queue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from curation import selectors, services
from curation.models import CandidatePair, Label
from curation.services.queue import NothingToUndo, PairNotClaimed
from lineage.models import Activity
from tests.factories import entity_type_with_records, make_pairs

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    entity_type, source = entity_type_with_records(8)
    return entity_type, make_pairs(entity_type, source, 6)


def test_claim_hands_each_curator_a_different_pair(setup, curator, other_curator):
    entity_type, pairs = setup
    first = services.claim_next_pair(curator=curator, entity_type=entity_type)
    second = services.claim_next_pair(curator=other_curator, entity_type=entity_type)
    assert first.pk == pairs[0].pk and second.pk == pairs[1].pk
    assert first.claimed_by == curator and first.claimed_until > timezone.now()


def test_claim_again_returns_the_pair_already_held(setup, curator):
    entity_type, _ = setup
    first = services.claim_next_pair(curator=curator, entity_type=entity_type)
    again = services.claim_next_pair(curator=curator, entity_type=entity_type)
    assert again.pk == first.pk


def test_an_abandoned_pair_returns_to_the_queue_when_its_lease_expires(setup, curator, other_curator):
    entity_type, pairs = setup
    held = services.claim_next_pair(curator=curator, entity_type=entity_type)
    CandidatePair.objects.filter(pk=held.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert services.claim_next_pair(curator=other_curator, entity_type=entity_type).pk == held.pk


def test_answer_records_label_activity_and_releases_the_pair(setup, curator):
    entity_type, _ = setup
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    label = services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH, seconds_spent=4.2)
    pair.refresh_from_db()
    assert (label.answer, label.curator, label.seconds_spent, label.origin) == ("match", curator, 4.2, "queue")
    assert pair.claimed_by is None and pair.status == CandidatePair.Status.DONE
    assert Activity.objects.filter(kind=Activity.Kind.LABEL, user=curator).count() == 1


def test_answer_is_refused_after_the_lease_expired(setup, curator):
    entity_type, _ = setup
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    CandidatePair.objects.filter(pk=pair.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    with pytest.raises(PairNotClaimed, match="lease ran out"):
        services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    assert not Label.objects.exists()


def test_answer_is_refused_for_a_pair_held_by_someone_else(setup, curator, other_curator):
    entity_type, _ = setup
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    with pytest.raises(PairNotClaimed):
        services.answer_pair(pair=pair, curator=other_curator, answer=Label.Answer.DISTINCT)


def test_skip_moves_the_pair_behind_the_others(setup, curator):
    entity_type, pairs = setup
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    services.skip_pair(pair=pair, curator=curator)
    assert services.claim_next_pair(curator=curator, entity_type=entity_type).pk == pairs[1].pk


def test_undo_takes_back_only_your_own_latest_answer(setup, curator, other_curator):
    entity_type, _ = setup
    mine = services.claim_next_pair(curator=curator, entity_type=entity_type)
    services.answer_pair(pair=mine, curator=curator, answer=Label.Answer.MATCH)
    theirs = services.claim_next_pair(curator=other_curator, entity_type=entity_type)
    services.answer_pair(pair=theirs, curator=other_curator, answer=Label.Answer.DISTINCT)
    back = services.undo_last_answer(curator=curator, entity_type=entity_type)
    assert back.pk == mine.pk and back.claimed_by == curator and back.status == CandidatePair.Status.OPEN
    assert Label.objects.get(pair=mine).revoked_at is not None
    assert Label.objects.get(pair=theirs).revoked_at is None
    relabel = services.answer_pair(pair=back, curator=curator, answer=Label.Answer.DISTINCT)
    assert relabel.answer == "distinct"
    assert Label.objects.active().filter(pair=mine).count() == 1


def test_undo_with_nothing_to_undo_says_so(setup, curator):
    entity_type, _ = setup
    with pytest.raises(NothingToUndo):
        services.undo_last_answer(curator=curator, entity_type=entity_type)


def test_overlap_collects_k_answers_and_disagreement_goes_to_stewards(curator, other_curator, steward):
    entity_type, source = entity_type_with_records(6, slug="people2", overlap=2)
    make_pairs(entity_type, source, 1)
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    assert services.claim_next_pair(curator=curator, entity_type=entity_type) is None  # already answered by me
    same = services.claim_next_pair(curator=other_curator, entity_type=entity_type)
    assert same.pk == pair.pk
    services.answer_pair(pair=same, curator=other_curator, answer=Label.Answer.DISTINCT)
    pair.refresh_from_db()
    assert pair.status == CandidatePair.Status.DISPUTED
    assert list(selectors.disputed_pairs(entity_type=entity_type)) == [pair]
    assert pair.pk not in selectors.resolved_answers(entity_type=entity_type)
    services.adjudicate_pair(pair=pair, steward=steward, answer=Label.Answer.DISTINCT)
    pair.refresh_from_db()
    assert pair.status == CandidatePair.Status.DONE
    assert selectors.resolved_answers(entity_type=entity_type)[pair.pk][2] is False
    agreement = selectors.agreement(entity_type=entity_type)
    assert agreement["pairs"] == 1 and agreement["rate"] == 0.0


def test_revoked_labels_are_kept_but_not_trained_on(setup, curator):
    entity_type, _ = setup
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    label = services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.MATCH)
    assert len(selectors.training_labels(entity_type=entity_type)) == 1
    services.revoke_label(label=label, by=curator, reason="misclick")
    assert Label.objects.filter(pk=label.pk).exists()
    assert selectors.training_labels(entity_type=entity_type) == []


def test_import_labels_is_all_or_nothing(setup, curator):
    entity_type, _ = setup
    source = entity_type.attributes.first().mappings.first().source
    good = {"left": {"source": source.slug, "key": "p0"}, "right": {"source": source.slug, "key": "p3"}, "answer": "no"}
    bad = {"left": {"source": source.slug, "key": "p0"}, "right": {"source": source.slug, "key": "nope"}, "answer": "match"}
    from steward.errors import InvalidInput

    with pytest.raises(InvalidInput) as error:
        services.import_labels(entity_type=entity_type, rows=[good, bad], curator=curator)
    assert error.value.problems == [{"row": 2, "reason": "left or right record not found among this entity type's sources"}]
    assert not Label.objects.exists()
    assert services.import_labels(entity_type=entity_type, rows=[good], curator=curator) == {"imported": 1}
    label = Label.objects.get()
    assert (label.origin, label.pair.origin) == (Label.Origin.IMPORT, CandidatePair.Origin.IMPORTED)

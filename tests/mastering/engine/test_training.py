import io
import itertools

import dedupe
import pytest

from mastering.engine import (
    LabeledPair,
    Matcher,
    TrainingError,
    candidate_pairs,
    cluster_pairs,
    train_model,
)

from .conftest import SEED
from .people import ENTITY, RECORDS, SPECS, answer, seed_labels, true_pairs


def _partition(matcher: Matcher, threshold: float = 0.5) -> set[tuple[int, int]]:
    pairs = candidate_pairs(matcher.blocking_keys(RECORDS))
    clusters = cluster_pairs(matcher.score(pairs.pairs, RECORDS), threshold=threshold)
    return {pair for c in clusters for pair in itertools.combinations(c.record_ids, 2)}


def test_dedupe_smoke_train_a_tiny_model_and_partition(trained):
    # The test a broken dedupe stack (e.g. BTrees >= 6.5) fails first.
    found = _partition(trained.matcher)
    truth = true_pairs()
    assert len(found & truth) >= 0.9 * len(truth)
    assert len(found - truth) <= 1


def test_settings_load_in_dedupe_static_dedupe_and_partition_the_same(trained):
    static = dedupe.StaticDedupe(io.BytesIO(trained.model.settings), num_cores=1)
    prepared = trained.matcher.prepare(RECORDS)
    clusters = static.partition(prepared, threshold=0.5)
    theirs = {pair for ids, _ in clusters for pair in itertools.combinations(sorted(ids), 2)}
    assert theirs == _partition(trained.matcher)


def test_trained_model_reports_rules_and_metrics(trained):
    metrics = trained.model.metrics
    assert trained.model.predicates == trained.matcher.predicates()
    assert metrics["labels"] == len({label.key for label in trained.labels})
    assert metrics["matches"] + metrics["distincts"] == metrics["labels"]
    assert metrics["labelled_matches_blocked"] == metrics["matches"]
    assert metrics["sample_records"] == len(RECORDS)
    assert trained.model.threshold == 0.5


def test_training_needs_both_answers():
    with pytest.raises(TrainingError, match="one pair labelled match and one labelled distinct"):
        train_model(specs=SPECS, labels=[LabeledPair(100, 101, True)], records=RECORDS, seed=SEED, sample=RECORDS)


def test_training_without_a_learner_uses_the_sample_given():
    labels = seed_labels() + [answer(pair) for pair in [(105, 106), (110, 111), (108, 109), (105, 129), (110, 131)]]
    model = train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED, sample=RECORDS)
    assert model.metrics["sample_records"] == len(RECORDS)
    assert len(_partition(Matcher.from_settings(model.settings)) & true_pairs()) >= 10
    with pytest.raises(ValueError, match="learner"):
        train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED)


def test_training_refuses_a_learner_built_for_other_attributes(trained):
    with pytest.raises(ValueError, match="other attributes"):
        train_model(specs=SPECS[:3], labels=trained.labels, records=RECORDS, seed=SEED, learner=trained.learner)


def test_quality_is_not_estimated_from_too_few_labels():
    labels = seed_labels() + [answer((105, 106))]
    model = train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED, sample=RECORDS)
    assert model.quality["precision"] is None and model.quality["recall"] is None
    assert model.quality["basis"].startswith("Not estimated yet: needs 5 labels of each answer")


def test_quality_is_estimated_on_the_sample_once_both_answers_have_a_few_labels():
    ids = sorted(RECORDS)
    pairs = [(a, b) for a, b in itertools.combinations(ids, 2) if ENTITY[a] == ENTITY[b]][:12]
    pairs += [(a, b) for a, b in itertools.combinations(ids, 2) if ENTITY[a] != ENTITY[b]][::40][:12]
    labels = [answer(pair) for pair in pairs]
    model = train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED, sample=RECORDS)
    quality = model.quality
    assert quality["labels"] == 24
    assert quality["precision"] >= 0.8 and quality["recall"] >= 0.8 and quality["blocking_recall"] >= 0.8
    assert "pairs its rules compare" in quality["basis"]
    again = train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED, sample=RECORDS)
    assert again.quality == quality


def test_link_models_suggest_a_lower_threshold():
    from mastering.engine import DEFAULT_LINK_THRESHOLD, ActiveLearner

    from .people import SOURCE

    learner = ActiveLearner(SPECS, RECORDS, seed=SEED, group_of=SOURCE)
    labels = [answer(pair) for pair in learner.uncertain_pairs(12)] + [answer((100, 101)), answer((100, 127))]
    learner.mark(labels)
    model = train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED, learner=learner)
    assert model.threshold == DEFAULT_LINK_THRESHOLD == Matcher.from_settings(model.settings).threshold

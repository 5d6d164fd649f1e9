"""Shared fixtures for engine tests: no database, no Django, small fixed data."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mastering.engine import ActiveLearner, LabeledPair, Matcher, TrainedModel, train_model

from .people import RECORDS, SPECS, answer, seed_labels

SEED = 7


def label_until(learner: ActiveLearner, count: int) -> list[LabeledPair]:
    """Answer the learner's questions from the truth, one at a time, until `count` labels."""
    labels = seed_labels()
    learner.mark(labels)
    while len(labels) < count:
        asked = learner.uncertain_pairs(1)
        if not asked:
            break
        label = answer(asked[0])
        labels.append(label)
        learner.mark([label])
    return labels


@dataclass
class Trained:
    learner: ActiveLearner
    labels: list[LabeledPair]
    model: TrainedModel
    matcher: Matcher


@pytest.fixture(scope="session")
def trained() -> Trained:
    """A model trained from 24 simulated labels on the hand-made people."""
    learner = ActiveLearner(SPECS, RECORDS, seed=SEED)
    labels = label_until(learner, 24)
    model = train_model(specs=SPECS, labels=labels, records=RECORDS, seed=SEED, learner=learner)
    return Trained(learner, labels, model, Matcher.from_settings(model.settings))

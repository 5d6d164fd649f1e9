"""What a trained model will find: precision and recall estimated on the training sample, not on the labels.

Labels chosen by active learning are the hardest pairs, so the classifier's accuracy on them says
little about the data, and nothing about the pairs blocking never compares (a model once reported
recall 0.92 on its labels while it found 0.08 of the true pairs). The estimate here follows the
run instead:

- blocking recall: rules are learned again from half of the known matches (labelled and those the
  classifier finds in the sample) and tried on the other half, both ways round;
- among the pairs the rules compare on the sample, a uniform draw is scored: the expected matches
  above the threshold over all predicted matches is the precision, and over all expected matches
  (probabilities under NOISE_FLOOR not counted) the recall among compared pairs;
- recall = blocking recall × recall among compared pairs.

It is an estimate from the model's own probabilities, so it is only given once the labels hold a
few of each answer, and it says what it rests on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import numpy

from mastering.engine._blocks import Blocks, unpack
from mastering.engine.records import PreparedRecord

# Below this many labels of either answer the classifier's probabilities are guesses.
MIN_PER_CLASS = 5
# Compared sample pairs scored for the estimate.
SCORED_PAIRS = 3000
# Match probabilities below this are not counted as expected matches.
NOISE_FLOOR = 0.05


class QualityEstimate(TypedDict):
    """Estimated precision and recall of a model's runs (None, with the reason, when it cannot be estimated)."""

    precision: float | None
    recall: float | None
    f1: float | None
    blocking_recall: float | None
    labels: int
    basis: str


def not_yet(labels: int, matches: int, distincts: int) -> QualityEstimate:
    """The estimate of a model trained on too few labels of one answer."""
    return QualityEstimate(
        precision=None, recall=None, f1=None, blocking_recall=None, labels=labels,
        basis=f"Not estimated yet: needs {MIN_PER_CLASS} labels of each answer ({matches} match, {distincts} not a match).",
    )


def estimate(
    *,
    compared: Sequence[Blocks],
    held_out_recall: float | None,
    probability: Callable[[Any, Any], numpy.ndarray],
    threshold: float,
    labels: int,
    sample_records: int,
    rng: numpy.random.Generator,
    group_codes: Any = None,
) -> QualityEstimate:
    """Combine held-out blocking recall with the expected matches among a draw of compared sample pairs."""
    drawn = _uniform_draw(compared, SCORED_PAIRS, rng, group_codes)
    if not len(drawn) or held_out_recall is None:
        return QualityEstimate(precision=None, recall=None, f1=None, blocking_recall=held_out_recall, labels=labels,
                               basis="Not estimated: the rules compare no pairs of the training sample.")
    p = probability(*unpack(drawn))
    predicted = p > threshold
    # Trained on about half matches, the classifier gives the many strangers a run compares a floor of a
    # few percent; summed over thousands of pairs that floor would read as missed matches (Chicago
    # example: 1,100 expected among pairs below 5%, 44 real).
    p = numpy.where(p < NOISE_FLOOR, 0.0, p)
    expected_matches = float(p.sum())
    precision = float(p[predicted].mean()) if predicted.any() else None
    recall_compared = float(p[predicted].sum()) / expected_matches if expected_matches else None
    recall = recall_compared * held_out_recall if recall_compared is not None else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return QualityEstimate(
        precision=_round(precision), recall=_round(recall), f1=_round(f1), blocking_recall=_round(held_out_recall),
        labels=labels,
        basis=(f"Estimated from the model's match probabilities on {len(drawn):,} pairs its rules compare among "
               f"{sample_records:,} sample records, and from how many held-out matches the rules compare "
               f"({held_out_recall:.0%}); {labels} labels."),
    )


def held_out_blocking_recall(
    matches: Sequence[tuple[PreparedRecord, PreparedRecord]],
    learn: Callable[[Sequence[tuple[PreparedRecord, PreparedRecord]]], tuple[Any, ...]],
    rng: numpy.random.Generator,
) -> float | None:
    """Share of matches compared by rules learned without them (two-fold, both ways round)."""
    if len(matches) < 2 * MIN_PER_CLASS:
        return None
    order = rng.permutation(len(matches))
    halves = [[matches[i] for i in order[::2]], [matches[i] for i in order[1::2]]]
    covered = 0
    for train, test in (halves, halves[::-1]):
        rules = learn(train)
        covered += sum(1 for a, b in test if any(not rule(a).isdisjoint(rule(b, target=True)) for rule in rules))
    return covered / len(matches)


def _uniform_draw(compared: Sequence[Blocks], size: int, rng: numpy.random.Generator, group_codes: Any) -> numpy.ndarray:
    stored = [b.codes for b in compared if b.codes is not None]
    if len(stored) == len(compared):
        union = numpy.unique(numpy.concatenate(stored)) if stored else numpy.empty(0, dtype=numpy.int64)
        return union if len(union) <= size else rng.choice(union, size=size, replace=False)
    # Some rules are too broad to list their pairs: draw from each in proportion to its pairs (pairs
    # that several rules compare are drawn a little more often than they should be).
    weights = numpy.array([b.pairs for b in compared], dtype=float)
    counts = rng.multinomial(size, weights / weights.sum())
    draws = [b.sample(int(n), rng, group_codes) for b, n in zip(compared, counts) if n]
    return numpy.unique(numpy.concatenate(draws)) if draws else numpy.empty(0, dtype=numpy.int64)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

"""What a trained model will find: precision and recall estimated on the training sample, not on the labels.

Labels chosen by active learning are the hardest pairs, so the classifier's accuracy on them says
little about the data, and nothing about the pairs blocking never compares (a model once reported
recall 0.92 on its labels while it found 0.08 of the true pairs). The estimate here follows the
run instead:

- blocking recall: rules are learned again from half of the known matches (labelled and those the
  classifier finds in the sample) and tried on the other half, both ways round;
- among the pairs the rules compare on the sample, a uniform draw is scored: the expected matches
  above the threshold over all predicted matches is the precision, and over all expected matches
  (probabilities under NOISE_FLOOR not counted) the highest recall among compared pairs, and
  counting every unsure pair (and every labelled match the classifier misses out of fold) as a
  missed match the lowest: recall is given as the middle when the two are close, else not at all;
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
# Recall is only given when counting every unsure pair as a match would lower it by at most this.
MAX_RECALL_SPREAD = 0.2


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
    labelled_recall: float | None = None,
    sample_records: int,
    rng: numpy.random.Generator,
    group_codes: Any = None,
) -> QualityEstimate:
    """Combine held-out blocking recall with the expected matches among a draw of compared sample pairs.

    For link tasks (`group_codes`: at most one record per source in an entity) the draw is of records
    instead: each drawn record's best-scoring partner is its one possible match, so the many
    runner-up candidates a run compares do not count as missed matches.
    """
    if group_codes is None:
        drawn = _uniform_draw(compared, SCORED_PAIRS, rng, group_codes)
        p = probability(*unpack(drawn)) if len(drawn) else numpy.empty(0)
    else:
        drawn, p = _best_partners(compared, group_codes, probability, rng)
    if not len(drawn) or held_out_recall is None:
        return QualityEstimate(precision=None, recall=None, f1=None, blocking_recall=held_out_recall, labels=labels,
                               basis="Not estimated: the rules compare no pairs of the training sample.")
    predicted = p > threshold
    p = numpy.abs(p)
    # Trained on about half matches, the classifier gives the many strangers a run compares a floor of a
    # few percent; summed over thousands of pairs that floor would read as missed matches (Chicago
    # example: 1,100 expected among pairs below 5%, 44 real).
    p = numpy.where(p < NOISE_FLOOR, 0.0, p)
    expected_matches = float(p.sum())
    precision = float(p[predicted].mean()) if predicted.any() else None
    recall_compared = float(p[predicted].sum()) / expected_matches if expected_matches else None
    recall = recall_compared * held_out_recall if recall_compared is not None else None
    # If every unsure pair (between the floor and the threshold) were a match, recall would be this low;
    # a wide gap means the probabilities cannot settle recall yet, and it is not given.
    unsure = int(((p > 0) & ~predicted).sum())
    lowest = float(p[predicted].sum()) / (float(p[predicted].sum()) + unsure) * held_out_recall if expected_matches else None
    if lowest is not None and labelled_recall is not None:
        # Matches the model is sure are not matches leave no trace in its probabilities; the labelled
        # matches it calls distinct out of fold show how many such matches there can be.
        lowest = min(lowest, labelled_recall * held_out_recall)
    caveat = ""
    if recall is not None and lowest is not None and recall - lowest <= MAX_RECALL_SPREAD:
        # Unsure pairs are neither all matches nor matches only in the share their probability says.
        caveat = f" Recall lies between {lowest:.2f} and {recall:.2f}; the middle is given."
        recall = (recall + lowest) / 2
    elif recall is not None and lowest is not None:
        caveat = (f" Recall is not given: it lies between {lowest:.2f} (counting the {unsure:,} pairs the model is "
                  f"unsure of, and the labelled matches it calls distinct when they are held out, as missed) and "
                  f"{recall:.2f}; label more pairs.")
        recall = None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return QualityEstimate(
        precision=_round(precision), recall=_round(recall), f1=_round(f1), blocking_recall=_round(held_out_recall),
        labels=labels,
        basis=(f"Estimated from the model's match probabilities on {len(drawn):,} "
               f"{'records (their best-scoring partner)' if group_codes is not None else 'pairs'} its rules compare among "
               f"{sample_records:,} sample records, and from how many held-out matches the rules compare "
               f"({held_out_recall:.0%}); {labels} labels.{caveat}"),
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


def _best_partners(
    compared: Sequence[Blocks], group_codes: Any, probability: Callable[[Any, Any], numpy.ndarray],
    rng: numpy.random.Generator, records: int = 100,
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """Records drawn from the smaller source, and the probability that each is linked to its best partner.

    A run links at most one record per source, so a record whose best partner prefers another record
    is not linked to it: such a record counts as expected but not predicted (probability kept, and
    marked below the threshold by a negative sign).
    """
    sizes = numpy.bincount(group_codes)
    side = numpy.flatnonzero(group_codes == int(numpy.argmin(numpy.where(sizes > 0, sizes, sizes.max() + 1))))
    chosen = rng.choice(side, size=min(records, len(side)), replace=False)
    best, partner = _best_of(compared, group_codes, probability, chosen)
    partners = numpy.array(sorted({partner[r] for r in best if partner[r] >= 0}), dtype=numpy.int64)
    their_best, their_partner = _best_of(compared, group_codes, probability, partners)
    ids = numpy.array(sorted(best), dtype=numpy.int64)
    scores = numpy.array([best[r] if their_partner.get(partner[r]) == r else -best[r] for r in ids.tolist()])
    return ids, scores


def _best_of(compared: Sequence[Blocks], group_codes: Any, probability: Callable[[Any, Any], numpy.ndarray],
             chosen: numpy.ndarray) -> tuple[dict[int, float], dict[int, int]]:
    firsts, seconds = [], []
    for blocks in compared:
        rec, block = blocks.by_record()
        hit = numpy.isin(rec, chosen)
        for r, b in zip(rec[hit].tolist(), block[hit].tolist()):
            members = blocks.records[blocks.starts[b] : blocks.starts[b] + blocks.sizes[b]]
            members = members[group_codes[members] != group_codes[r]]
            firsts.append(numpy.full(len(members), r))
            seconds.append(members)
    best: dict[int, float] = {}
    partner: dict[int, int] = {}
    if not firsts:
        return best, partner
    a, b = numpy.concatenate(firsts), numpy.concatenate(seconds)
    codes = numpy.unique((numpy.minimum(a, b) << 32) | numpy.maximum(a, b))
    lo, hi = unpack(codes)
    p = probability(lo, hi)
    owner_is_lo = numpy.isin(lo, chosen)
    for low, high, is_lo, score in zip(lo.tolist(), hi.tolist(), owner_is_lo.tolist(), p.tolist()):
        owner, other = (low, high) if is_lo else (high, low)
        if score > best.get(owner, -1.0):
            best[owner], partner[owner] = score, other
    return best, partner


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

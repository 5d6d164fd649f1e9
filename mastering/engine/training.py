"""Training: from stored labels to learned settings bytes, and an estimate of their quality."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import dedupe.datamodel
import numpy

from mastering.engine import quality as quality_estimate
from mastering.engine._classifier import cross_validated_predictions, fit_classifier, linear_model
from mastering.engine._coverage import SampleCoverage
from mastering.engine._seeding import seeded
from mastering.engine._settings import dump_settings
from mastering.engine.learner import CANDIDATE_PAIRS, RANDOM_PAIR_SHARE, ActiveLearner
from mastering.engine.records import LabeledPair, Pair, PreparedRecord, RawRecord, RecordId, TrainingError
from mastering.engine.sampling import MAX_TRAINING_RECORDS, draw_training_sample
from mastering.engine.variables import AttributeSpec, prepare_record, to_dedupe_variables

__all__ = [
    "ActiveLearner",
    "DEFAULT_LINK_THRESHOLD",
    "DEFAULT_RECALL",
    "MAX_TRAINING_RECORDS",
    "TrainedModel",
    "TrainingMetrics",
    "draw_training_sample",
    "predicate_name",
    "train_model",
]

# Share of labelled matches the learned blocking rules must put in a common block. Below 1.0
# dedupe may skip a rule that exists only for one odd pair, which keeps blocks small at scale.
DEFAULT_RECALL = 1.0
DEFAULT_THRESHOLD = 0.5
# With at most one record per source in a cluster, a wrong link needs the true partner to be absent
# and a stranger to score above the bar, so a lower bar buys recall at little cost in precision
# (100 labels, seeds 1 and 2, at 0.4 -> 0.25: DBLP-ACM F1 0.987/0.981 -> 0.988/0.984, Abt-Buy
# 0.859/0.866 -> 0.880/0.887, Febrl 4 unchanged). Deduplication has no such guard: a lower bar
# there chains strangers into one cluster (a person register at 0.3: precision 0.002).
DEFAULT_LINK_THRESHOLD = 0.25
# Sample pairs the new classifier calls matches must be blocked together too. Curators label a few
# dozen matches while the sample holds many more, and rules learned from the labelled ones alone
# miss duplicates whose differences no label happened to show (measured at 100,000 synthetic people:
# blocking recall 0.983 from labels alone).
PROBABLE_MATCH = DEFAULT_THRESHOLD
MAX_PROBABLE_MATCHES = 500


class TrainingMetrics(TypedDict):
    """Numbers describing one training run, for the model version's page."""

    labels: int
    matches: int
    distincts: int
    predicates: int
    sample_records: int
    sample_pairs: int
    sample_pairs_compared: int
    labelled_matches_blocked: int
    probable_matches: int
    rules: list[dict[str, Any]]
    regularisation_c: float
    train_seconds: float


@dataclass(frozen=True)
class TrainedModel:
    """A learned model: dedupe settings bytes plus what the app shows about it."""

    settings: bytes
    predicates: list[str]
    metrics: TrainingMetrics
    threshold: float = DEFAULT_THRESHOLD
    quality: quality_estimate.QualityEstimate | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def predicate_name(predicate: Any) -> str:
    """A readable name for a (possibly compound) dedupe predicate, e.g. 'sameThreeCharStart(surname) & state'."""
    parts = list(predicate) if isinstance(predicate, tuple) else [predicate]
    names = []
    for part in parts:
        func = getattr(part, "func", None)
        field_name = getattr(part, "field", "?")
        names.append(f"{func.__name__}({field_name})" if func is not None else repr(part))
    return " & ".join(names)


def train_model(
    *,
    specs: Sequence[AttributeSpec],
    labels: Sequence[LabeledPair],
    records: Mapping[RecordId, RawRecord],
    seed: int,
    learner: ActiveLearner | None = None,
    sample: Mapping[RecordId, RawRecord] | None = None,
    group_of: Mapping[RecordId, str] | None = None,
    recall: float = DEFAULT_RECALL,
    population: int | None = None,
) -> TrainedModel:
    """Learn classifier and blocking rules from labels; reuse a live learner's sample or build one from `sample`."""
    started = time.perf_counter()
    specs = tuple(specs)
    if learner is not None and learner.specs != specs:
        raise ValueError("The learner was built for other attributes than the ones given.")
    pairs, answers = _labelled_pairs(specs, labels, records, learner)
    matches = [pair for pair, match in zip(pairs, answers) if match]
    if not matches or len(matches) == len(pairs):
        raise TrainingError("Training needs at least one pair labelled match and one labelled distinct.")
    coverage = learner.coverage if learner is not None else _coverage_from_sample(
        specs, sample, group_of, seed, population
    )
    # Text and Set comparators weigh words by their rarity in the sample the blocking rules saw.
    data_model = dedupe.datamodel.DataModel(to_dedupe_variables(specs, corpus=coverage.records))
    y = numpy.array([int(a) for a in answers])
    link = (learner.group_of if learner is not None else group_of) is not None
    threshold = DEFAULT_LINK_THRESHOLD if link else DEFAULT_THRESHOLD
    enough = min(len(matches), len(pairs) - len(matches)) >= quality_estimate.MIN_PER_CLASS
    with seeded(seed) as stream:
        features = data_model.distances(pairs)
        classifier = fit_classifier(features, y, seed)
        if not coverage.candidates:
            coverage.sample_pairs(CANDIDATE_PAIRS, stream.generator(), RANDOM_PAIR_SHARE)
        probable = _probable_matches(coverage, data_model, classifier, pairs, stream.generator())
        probability = _position_probability(coverage, data_model, classifier)
        rng = stream.generator()
        known_waste: dict[Any, float] = {}

        def learn(known: Sequence[tuple[PreparedRecord, PreparedRecord]]) -> tuple[Any, ...]:
            return coverage.learn(list(known), recall=recall, index_predicates=False, candidate_types="random forest",
                                  population=population, match_probability=probability, rng=rng,
                                  known_waste=known_waste)

        held_out = quality_estimate.held_out_blocking_recall(matches + probable, learn, rng) if enough else None
        predicates = _learn_predicates(coverage, matches + probable, learn)
        blocked = sum(1 for a, b in matches if any(not p(a).isdisjoint(p(b, target=True)) for p in predicates))
        if held_out is not None and blocked < len(matches):
            # Rules that leave out labelled matches cannot be trusted to find more than that share.
            held_out = min(held_out, blocked / len(matches))
        if enough:
            quality = quality_estimate.estimate(
                compared=[coverage.last_blocks[p] for p in predicates], held_out_recall=held_out, probability=probability,
                threshold=threshold, labels=len(pairs), sample_records=coverage.n_records, rng=rng,
                labelled_recall=_labelled_recall(features, y, seed, threshold),
                group_codes=coverage.group_codes,
            )
        else:
            quality = quality_estimate.not_yet(len(pairs), len(matches), len(pairs) - len(matches))
    names = [predicate_name(p) for p in predicates]
    compared = coverage.pair_count(predicates)
    population = max(population or coverage.population, coverage.n_records)
    metrics = TrainingMetrics(
        labels=len(pairs),
        matches=len(matches),
        distincts=len(pairs) - len(matches),
        predicates=len(predicates),
        sample_records=coverage.n_records,
        sample_pairs=coverage.total_pairs,
        sample_pairs_compared=compared,
        labelled_matches_blocked=blocked,
        probable_matches=len(probable),
        rules=_rule_report(predicates, names, matches + probable, coverage),
        regularisation_c=float(linear_model(classifier).C),
        train_seconds=round(time.perf_counter() - started, 3),
    )
    metadata = {
        "specs": [spec.as_dict() for spec in specs],
        "threshold": threshold,
        "predicate_names": names,
        "link": link,
        # What the rules are expected to compare per record of the full data, counted block by block as
        # a run counts against its pair budget.
        "pairs_per_record": coverage.projected_pairs(sum(coverage.last_blocks[p].block_pairs for p in predicates),
                                                     population) / population,
    }
    settings = dump_settings(data_model, classifier, tuple(predicates), metadata)
    return TrainedModel(settings=settings, predicates=names, metrics=metrics, threshold=threshold, quality=quality)


def _latest(labels: Sequence[LabeledPair]) -> dict[Pair, bool]:
    # A pair relabelled later counts with its latest answer only.
    return {label.key: label.match for label in labels}


def _labelled_pairs(
    specs: Sequence[AttributeSpec],
    labels: Sequence[LabeledPair],
    records: Mapping[RecordId, RawRecord],
    learner: ActiveLearner | None,
) -> tuple[list[tuple[PreparedRecord, PreparedRecord]], list[bool]]:
    cache: dict[RecordId, PreparedRecord] = {}

    def lookup(rid: RecordId) -> PreparedRecord:
        if rid not in cache:
            if rid in records:
                cache[rid] = prepare_record(specs, records[rid])
            elif learner is not None and (known := learner.record(rid)) is not None:
                cache[rid] = known
            else:
                raise KeyError(f"Labelled record {rid} was not passed in `records`.")
        return cache[rid]

    latest = _latest(labels)
    pairs = [(lookup(a), lookup(b)) for a, b in latest]
    return pairs, list(latest.values())


def _coverage_from_sample(
    specs: Sequence[AttributeSpec],
    sample: Mapping[RecordId, RawRecord] | None,
    group_of: Mapping[RecordId, str] | None,
    seed: int,
    population: int | None,
) -> SampleCoverage:
    if not sample:
        raise ValueError("Pass either a live `learner` or a `sample` of records to learn blocking rules on.")
    ids = sorted(sample)
    if len(ids) > MAX_TRAINING_RECORDS:
        by_group: dict[str, list[RecordId]] = {}
        for rid in ids:
            by_group.setdefault(group_of.get(rid, "") if group_of else "", []).append(rid)
        ids = draw_training_sample(by_group, size=MAX_TRAINING_RECORDS, seed=seed)
    prepared = [prepare_record(specs, sample[rid]) for rid in ids]
    groups = [group_of[rid] for rid in ids] if group_of is not None else None
    predicates = dedupe.datamodel.DataModel(to_dedupe_variables(specs)).predicates
    return SampleCoverage(predicates, prepared, groups, population=population or len(sample))


def _probable_matches(
    coverage: SampleCoverage,
    data_model: Any,
    classifier: Any,
    labelled: list[tuple[PreparedRecord, PreparedRecord]],
    rng: numpy.random.Generator,
) -> list[tuple[PreparedRecord, PreparedRecord]]:
    records = coverage.records
    pool = [(records[a], records[b]) for a, b in coverage.candidates]
    if not pool:
        return []
    probabilities = classifier.predict_proba(data_model.distances(pool))[:, 1]
    seen = {(id(a), id(b)) for a, b in labelled} | {(id(b), id(a)) for a, b in labelled}
    probable = [pair for pair, p in zip(pool, probabilities) if p >= PROBABLE_MATCH and (id(pair[0]), id(pair[1])) not in seen]
    if len(probable) > MAX_PROBABLE_MATCHES:
        # Rule learning costs grow with the matches to cover; a few hundred show the variety well enough.
        keep = numpy.sort(rng.choice(len(probable), size=MAX_PROBABLE_MATCHES, replace=False))
        probable = [probable[i] for i in keep]
    return probable


def _labelled_recall(features: numpy.ndarray, y: numpy.ndarray, seed: int, threshold: float) -> float:
    """Share of labelled matches the classifier finds when they are held out (5-fold)."""
    folds = min(5, int(y.sum()), int(len(y) - y.sum()))
    held_out = cross_validated_predictions(features, y, seed, folds)
    return float((held_out[y == 1] > threshold).mean())


def _rule_report(predicates: Sequence[Any], names: list[str], known: Sequence[tuple[PreparedRecord, PreparedRecord]],
                 coverage: SampleCoverage) -> list[dict[str, Any]]:
    """Per rule: the share of known matches (labelled, and found by the classifier in the sample) it compares."""
    report = []
    for predicate, name in zip(predicates, names):
        covered = sum(1 for a, b in known if not predicate(a).isdisjoint(predicate(b, target=True)))
        report.append({"rule": name, "matches_compared": round(covered / len(known), 4) if known else None,
                       "sample_pairs": coverage.last_blocks[predicate].pairs})
    return report


def _position_probability(coverage: SampleCoverage, data_model: Any, classifier: Any) -> Any:
    """The classifier's match probability for pairs of sample positions."""
    records = coverage.records

    def probability(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
        pairs = [(records[i], records[j]) for i, j in zip(a.tolist(), b.tolist())]
        return classifier.predict_proba(data_model.distances(pairs))[:, 1] if pairs else numpy.empty(0)

    return probability


def _learn_predicates(
    coverage: SampleCoverage,
    matches: list[tuple[PreparedRecord, PreparedRecord]],
    learn: Any,
) -> tuple[Any, ...]:
    # `learn` only reads the coverage, so a live learner sharing it keeps working afterwards; this is
    # what avoids dedupe's "train() resets the learner's index predicates" failure.
    predicates = learn(matches)
    if not predicates:
        raise TrainingError("No affordable set of blocking rules puts the labelled matches together; label more matches.")
    return tuple(predicates)

"""The active learner: which pairs should a curator label next."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dedupe.datamodel
import dedupe.labeler
import numpy

from mastering.engine._classifier import new_logistic_regression
from mastering.engine._coverage import SampleCoverage
from mastering.engine._seeding import SeededRandom
from mastering.engine.records import LabeledPair, Pair, PreparedRecord, RawRecord, RecordId, ordered
from mastering.engine.sampling import MAX_TRAINING_RECORDS, draw_training_sample
from mastering.engine.similarity import similar_pairs
from mastering.engine.variables import AttributeSpec, prepare_record, to_dedupe_variables

logger = logging.getLogger(__name__)

# Records travel through dedupe's learner as dicts; this extra key lets us map them back to ids.
ID_KEY = "__steward_record_id__"
CANDIDATE_PAIRS = 10_000
RANDOM_PAIR_SHARE = 0.02
# Until the labels hold this many matches, questions come from the most similar pairs by plain text
# similarity (TF-IDF on character n-grams): before a model exists, uncertainty means nothing.
COLD_START_MATCHES = 5


class _BlockingLearner(dedupe.labeler.BlockLearner):
    """dedupe's blocking-rule learner over our bounded sample coverage."""

    def __init__(self, coverage: SampleCoverage, candidates: list[tuple[PreparedRecord, PreparedRecord]]) -> None:
        super().__init__()
        self.block_learner = coverage  # type: ignore[assignment]
        self._candidates = candidates.copy()


class _DisagreementLearner(dedupe.labeler.DisagreementLearner):
    """dedupe's learner pair (classifier + blocking rules) asking about pairs where they disagree."""

    def __init__(
        self,
        featurizer: Any,
        coverage: SampleCoverage,
        candidates: list[tuple[PreparedRecord, PreparedRecord]],
        rng: numpy.random.Generator,
    ) -> None:
        super().__init__()
        self.rng = rng  # dedupe seeds its own generator from the OS; ours must be reproducible
        self.blocker = _BlockingLearner(coverage, candidates)
        self._candidates = candidates.copy()
        self.matcher = dedupe.labeler.MatchLearner(featurizer, self._candidates)
        self.matcher._classifier = new_logistic_regression()

    def refit(self) -> None:
        for learner in self._learners:
            learner.fit(self.pairs, self.y)


class ActiveLearner:
    """Suggests uncertain pairs from a bounded record sample and learns from curators' labels.

    Building one costs a few seconds (it measures what every candidate blocking rule would compare
    in the sample), so build it once per entity type and keep it; `mark` and `uncertain_pairs` are
    cheap. It only ever reads its own objects: training a model never modifies it.
    """

    def __init__(
        self,
        specs: Sequence[AttributeSpec],
        records: Mapping[RecordId, RawRecord],
        *,
        seed: int,
        group_of: Mapping[RecordId, str] | None = None,
        labels: Sequence[LabeledPair] = (),
        label_records: Mapping[RecordId, RawRecord] | None = None,
        max_records: int = MAX_TRAINING_RECORDS,
        candidate_pairs: int = CANDIDATE_PAIRS,
        random_pair_share: float = RANDOM_PAIR_SHARE,
        population: int | None = None,
    ) -> None:
        if not records:
            raise ValueError("The learner needs at least two records.")
        self.specs = tuple(specs)
        self.group_of = dict(group_of) if group_of is not None else None
        self.seed = seed
        self._random = SeededRandom(seed)
        sample_ids = self._bounded_ids(records, min(max_records, MAX_TRAINING_RECORDS))
        self.sample_ids: tuple[RecordId, ...] = tuple(sample_ids)
        self._records: dict[RecordId, PreparedRecord] = {rid: self._prepare(rid, records[rid]) for rid in sample_ids}
        sample = [self._records[rid] for rid in sample_ids]
        groups = [self.group_of[rid] for rid in sample_ids] if self.group_of is not None else None
        self.data_model = dedupe.datamodel.DataModel(to_dedupe_variables(self.specs, corpus=sample))
        # The rules must suit the whole data set, which may be far larger than what the learner holds.
        self.coverage = SampleCoverage(
            self.data_model.predicates, sample, groups, population=population or len(records)
        )
        with self._random.active():
            rng = self._random.generator()
            positions = self.coverage.sample_pairs(candidate_pairs, rng, random_pair_share)
            candidates = [(sample[a], sample[b]) for a, b in positions]
            self._learner = _DisagreementLearner(self.data_model.distances, self.coverage, candidates, rng)
        self._labels: dict[Pair, bool] = {}
        self._positions: dict[Pair, int] = {}
        self._similar = [pair for pair, _ in similar_pairs(self._records, [spec.name for spec in self.specs],
                                                           group_of=self.group_of)]
        self._similar_next = 0
        self.seeded: set[Pair] = set()  # pairs handed out for their text similarity, not their uncertainty
        self._bootstrap(sample, rng)
        if labels:
            self.mark(labels, label_records)

    def _bounded_ids(self, records: Mapping[RecordId, RawRecord], cap: int) -> list[RecordId]:
        if len(records) <= cap:
            return sorted(records)
        logger.info("Learner given %d records; using a sample of %d.", len(records), cap)
        by_group: dict[str, list[RecordId]] = {}
        for rid in records:
            name = self.group_of.get(rid, "") if self.group_of is not None else ""
            by_group.setdefault(name, []).append(rid)
        return draw_training_sample(by_group, size=cap, seed=self.seed)

    def _prepare(self, rid: RecordId, raw: RawRecord) -> PreparedRecord:
        prepared = prepare_record(self.specs, raw)
        prepared[ID_KEY] = rid
        return prepared

    def _bootstrap(self, sample: list[PreparedRecord], rng: numpy.random.Generator) -> None:
        # As dedupe does: a record paired with itself is a match, a random pair is not, so both
        # models can be fitted before the first real label arrives.
        a, b = (int(i) for i in rng.choice(len(sample), size=2, replace=False))
        if self.group_of is not None:
            others = [i for i, rec in enumerate(sample) if self.group_of[rec[ID_KEY]] != self.group_of[sample[a][ID_KEY]]]
            if others:
                b = others[int(rng.integers(len(others)))]
        self._learner.pairs = [(sample[a], sample[a])] * 4 + [(sample[a], sample[b])]
        self._learner.y = numpy.array([1, 1, 1, 1, 0])
        with self._random.active():
            self._learner.refit()

    @property
    def labels(self) -> list[LabeledPair]:
        """Every label the learner holds, latest answer per pair."""
        return [LabeledPair(a, b, match) for (a, b), match in self._labels.items()]

    def record(self, rid: RecordId) -> PreparedRecord | None:
        """The prepared record the learner knows under this id, if any."""
        return self._records.get(rid)

    def mark(self, labels: Iterable[LabeledPair], records: Mapping[RecordId, RawRecord] | None = None) -> None:
        """Add curators' labels; records outside the sample must be passed in `records`."""
        changed = False
        for label in labels:
            key = label.key
            if self._labels.get(key) == label.match:
                continue
            pair = (self._lookup(key[0], records), self._lookup(key[1], records))
            if key in self._positions:
                # A changed answer replaces the old one rather than leaving both in the training set.
                self._learner.y[self._positions[key]] = int(label.match)
            else:
                self._positions[key] = len(self._learner.pairs)
                self._learner.pairs.append(pair)
                self._learner.y = numpy.append(self._learner.y, int(label.match))
            self._labels[key] = label.match
            changed = True
        if changed:
            with self._random.active():
                self._learner.refit()

    def _lookup(self, rid: RecordId, records: Mapping[RecordId, RawRecord] | None) -> PreparedRecord:
        if rid not in self._records:
            if records is None or rid not in records:
                raise KeyError(f"Record {rid} is not in the learner's sample; pass its data in `records`.")
            self._records[rid] = self._prepare(rid, records[rid])
        return self._records[rid]

    def uncertain_pairs(self, n: int = 1) -> list[Pair]:
        """Return up to n unlabelled pairs the current models are least sure of; each is handed out once."""
        found: list[Pair] = []
        while len(found) < n and self._wants_seeds() and self._similar_next < len(self._similar):
            pair = self._similar[self._similar_next]
            self._similar_next += 1
            if pair not in self._labels and pair not in found:
                found.append(pair)
                self.seeded.add(pair)
        with self._random.active():
            while len(found) < n and len(self._learner.candidates):
                record_a, record_b = self._pop()
                key = ordered(record_a[ID_KEY], record_b[ID_KEY])
                if key not in self._labels and key not in found and key not in self.seeded:
                    found.append(key)
        return found

    @property
    def cold(self) -> bool:
        """True while too few matches are labelled for the models' uncertainty to mean anything."""
        return sum(self._labels.values()) < COLD_START_MATCHES

    def _wants_seeds(self) -> bool:
        # Pairs handed out but not answered yet count as matches to come: a queue filled several at a
        # time would otherwise ask a dozen near-identical pairs, and a classifier taught mostly by them
        # takes any difference for a non-match (Chicago example, 50 labels: recall 0.94 -> 0.85).
        pending = sum(1 for pair in self.seeded if pair not in self._labels)
        return sum(self._labels.values()) + pending < COLD_START_MATCHES
    def _pop(self) -> tuple[PreparedRecord, PreparedRecord]:
        try:
            return self._learner.pop()
        except ValueError:
            # dedupe's sampling weights can all be zero (both models agree everywhere); fall back to
            # the candidate whose match probability is closest to a coin flip.
            probabilities = self._learner.matcher.candidate_scores()[:, 0]
            index = int(numpy.argmin(numpy.abs(probabilities - 0.5)))
            pair = self._learner.candidates[index]
            self._learner._remove(index)
            return pair

    def labelled_pairs(self) -> tuple[list[tuple[PreparedRecord, PreparedRecord]], list[bool]]:
        """The labelled record pairs (prepared) and their answers, for training."""
        pairs, answers = [], []
        for (a, b), match in self._labels.items():
            pairs.append((self._records[a], self._records[b]))
            answers.append(match)
        return pairs, answers

    @property
    def candidates_left(self) -> int:
        """How many sample pairs the learner could still ask about."""
        return len(self._learner.candidates)

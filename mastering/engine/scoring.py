"""A static matcher loaded from settings bytes: block keys, pair scores and explanations."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dedupe.blocking
import numpy
import numpy.typing

from mastering.engine._classifier import linear_model
from mastering.engine._distances import distances
from mastering.engine._fingerprint import compile_rules, keys_by_rule
from mastering.engine._settings import LoadedSettings, load_settings
from mastering.engine.blocking import BlockKey, pair_budget
from mastering.engine.clustering import SCORE_DTYPE
from mastering.engine.records import Pair, PreparedRecord, RawRecord, RecordId
from mastering.engine.similarity import neighbour_pairs, record_text
from mastering.engine.training import DEFAULT_THRESHOLD, predicate_name
from mastering.engine.variables import AttributeSpec, prepare_records

ScoredChunk = numpy.typing.NDArray[Any]
DEFAULT_CHUNK_SIZE = 20_000
# Distinct raw values a matcher remembers the prepared form of before it starts over (~40 MB, plus what one call
# adds). Only the matcher used last keeps them: a process caches a matcher per model version, and the queue's
# retraining makes many.
PREPARED_VALUES_KEPT = 300_000
_keeping_prepared_values: list["Matcher"] = []


@dataclass(frozen=True)
class AttributeContribution:
    """How one attribute moved a pair's score: its distance and its share of the log-odds."""

    attribute: str
    distance: float | None
    contribution: float


class Matcher:
    """Scores record pairs with a trained model. Cheap to build; safe to cache per model version."""

    def __init__(self, loaded: LoadedSettings, *, num_workers: int = 1) -> None:
        self._loaded = loaded
        self.data_model = loaded.data_model
        self.classifier = loaded.classifier
        self._predicates = loaded.predicates
        self.num_workers = num_workers
        specs = loaded.metadata.get("specs")
        self.specs: tuple[AttributeSpec, ...] | None = (
            tuple(AttributeSpec.from_dict(s) for s in specs) if specs else None
        )
        self.threshold: float = float(loaded.metadata.get("threshold", DEFAULT_THRESHOLD))
        self.fields: list[str] = [field for field, _, _, _ in self.data_model._field_comparators]
        self._prepared_values: dict[tuple[int, object], object] = {}

    @classmethod
    def from_settings(cls, settings: bytes, *, num_workers: int = 1) -> Matcher:
        """Load a matcher from settings bytes made by `train_model` (or dedupe's write_settings)."""
        return cls(load_settings(settings), num_workers=num_workers)

    def predicates(self) -> list[str]:
        """Readable names of the learned blocking predicates, indexed like `BlockKey.predicate`."""
        return [predicate_name(p) for p in self._predicates]

    def pair_budget(self, n_records: int) -> int | None:
        """Pairs a run over `n_records` may compare (None for models without a recorded cost: fixed block cap)."""
        return pair_budget(self._loaded.metadata.get("pairs_per_record"), n_records)

    @property
    def text_attributes(self) -> list[str]:
        """Attributes compared as text, whose nearest neighbours a run compares besides the blocking rules."""
        return [spec.name for spec in self.specs or () if spec.comparator == "Text"]

    def neighbour_pairs(self, records: Mapping[RecordId, RawRecord], *, group_of: Mapping[RecordId, str] | None = None,
                        prepared: bool = False) -> list[Pair]:
        """Each record and its nearest neighbours by text similarity of the text attributes (none without any)."""
        fields = self.text_attributes
        if not fields:
            return []
        lookup = dict(records) if prepared else self.prepare(records)
        return neighbour_pairs({rid: record_text(rec, fields) for rid, rec in lookup.items()}, group_of=group_of)

    def prepare(self, records: Mapping[RecordId, RawRecord]) -> dict[RecordId, PreparedRecord]:
        """Convert raw records into the values the comparators expect."""
        if self.specs is None:
            return {rid: {f: rec.get(f) for f in self.fields} for rid, rec in records.items()}
        # Prepared values are kept from call to call: a run's worker prepares the records of one slice after
        # another, then again those of each chunk of pairs, and names, dates and places recur throughout.
        if not (_keeping_prepared_values and _keeping_prepared_values[0] is self):
            for previous in _keeping_prepared_values:
                previous._prepared_values = {}
            _keeping_prepared_values[:] = [self]
        if len(self._prepared_values) > PREPARED_VALUES_KEPT:
            self._prepared_values = {}
        return prepare_records(self.specs, records, memo=self._prepared_values)

    def blocking_keys(self, records: Mapping[RecordId, RawRecord], *, prepared: bool = False) -> Iterator[BlockKey]:
        """Yield every (predicate, key, record id) the learned rules give these records, rule after rule."""
        for position, (keys, ids) in enumerate(self.keys_by_rule(records, prepared=prepared)):
            for key, rid in zip(keys, ids):
                yield BlockKey(position, key, rid)

    def keys_by_rule(self, records: Mapping[RecordId, RawRecord], *,
                     prepared: bool = False) -> list[tuple[list[str], list[RecordId]]]:
        """Per learned rule (indexed like `predicates()`), its keys and the record each belongs to, as two lists.

        The same keys as `blocking_keys`, without a tuple per key: a run's blocking hashes them straight from here.
        """
        prepared_records = dict(records) if prepared else self.prepare(records)
        fingerprinter = dedupe.blocking.Fingerprinter(self._predicates)
        # Index predicates (only in settings not made by this engine) need the corpus indexed first.
        fingerprinter.index_all(prepared_records)
        parts, layout = compile_rules(self._predicates)
        try:
            return keys_by_rule(list(prepared_records.items()), parts, layout)
        finally:
            fingerprinter.reset_indices()

    def score(
        self,
        pairs: Iterable[Pair] | numpy.typing.NDArray[numpy.int64],
        records: Mapping[RecordId, RawRecord],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        prepared: bool = False,
    ) -> Iterator[ScoredChunk]:
        """Score id pairs in chunks, yielding structured arrays of ('pairs', 'score')."""
        lookup = dict(records) if prepared else self.prepare(records)
        chunks = _id_chunks(pairs, chunk_size)
        if self.num_workers <= 1:
            for chunk in chunks:
                yield _score_chunk(self.data_model, self.classifier, lookup, chunk)
            return
        yield from self._score_parallel(lookup, chunks)

    def _score_parallel(
        self, lookup: dict[RecordId, PreparedRecord], chunks: Iterator[numpy.typing.NDArray[numpy.int64]]
    ) -> Iterator[ScoredChunk]:
        state = {"data_model": self.data_model, "classifier": self.classifier, "records": lookup}
        yield from _forked_map(self.num_workers, state, _score_in_worker, chunks)

    def score_pair(self, record_a: RawRecord, record_b: RawRecord) -> float:
        """Match probability of one pair of raw records."""
        a, b = self.prepare({0: record_a, 1: record_b}).values()
        return float(self.classifier.predict_proba(self.data_model.distances([(a, b)]))[0, 1])

    def explain(self, record_a: RawRecord, record_b: RawRecord) -> list[AttributeContribution]:
        """Per-attribute distance and log-odds contribution for one pair; the last entry is the baseline."""
        a, b = self.prepare({0: record_a, 1: record_b}).values()
        features = self.data_model.distances([(a, b)])[0]
        model = linear_model(self.classifier)
        weights = model.coef_[0]
        indicator = _missing_indicator_columns(self.data_model)
        result = []
        for field, _, start, stop in self.data_model._field_comparators:
            columns = list(range(start, stop))
            missing = a[field] is None or b[field] is None
            contribution = float(sum(weights[c] * features[c] for c in columns))
            contribution += sum(float(weights[i] * features[i]) for c in columns if (i := indicator.get(c)) is not None)
            distance = None if missing else float(sum(features[c] for c in columns))
            result.append(AttributeContribution(field, distance, round(contribution, 4)))
        result.append(AttributeContribution("(baseline)", None, round(float(model.intercept_[0]), 4)))
        return result


_WORKER_STATE: dict[str, Any] = {}


def _forked_map(workers: int, state: dict[str, Any], func: Any, chunks: Iterable[Any]) -> Iterator[Any]:
    """Map `func` over chunks in forked worker processes that inherit `state`, in order."""
    global _WORKER_STATE
    # Forked workers inherit the records copy-on-write, so only ids and results cross process lines.
    # Forking is impossible from a daemonic process (a Celery prefork child): keep num_workers=1 there.
    _WORKER_STATE = state
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(func, chunks)
    finally:
        _WORKER_STATE = {}


def _score_in_worker(ids: numpy.typing.NDArray[numpy.int64]) -> ScoredChunk:
    state = _WORKER_STATE
    return _score_chunk(state["data_model"], state["classifier"], state["records"], ids)


def _score_chunk(
    data_model: Any, classifier: Any, lookup: Mapping[RecordId, PreparedRecord], ids: numpy.typing.NDArray[numpy.int64]
) -> ScoredChunk:
    out = numpy.empty(len(ids), dtype=SCORE_DTYPE)
    out["pairs"] = ids
    if len(ids):
        # Column by column (dedupe's features, same numbers): a pair-by-pair loop costs ~150 µs a pair.
        features = distances(data_model, [lookup[a] for a in ids[:, 0].tolist()], [lookup[b] for b in ids[:, 1].tolist()])
        out["score"] = classifier.predict_proba(features)[:, 1]
    return out


def _id_chunks(
    pairs: Iterable[Pair] | numpy.typing.NDArray[numpy.int64], chunk_size: int
) -> Iterator[numpy.typing.NDArray[numpy.int64]]:
    if isinstance(pairs, numpy.ndarray):
        for start in range(0, len(pairs), chunk_size):
            yield numpy.ascontiguousarray(pairs[start : start + chunk_size], dtype=numpy.int64)
        return
    iterator = iter(pairs)
    while chunk := list(itertools.islice(iterator, chunk_size)):
        yield numpy.array(chunk, dtype=numpy.int64).reshape(-1, 2)


def _missing_indicator_columns(data_model: Any) -> dict[int, int]:
    # dedupe appends one "is present" column per variable that has missing values, after the
    # primary and interaction columns, in the order of `_missing_field_indices`.
    first = data_model._derived_start + len(data_model._interaction_indices)
    return {column: first + k for k, column in enumerate(data_model._missing_field_indices)}

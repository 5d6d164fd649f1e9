"""dedupe used directly, as its documentation shows: the baseline Steward's matching is measured against.

None of Steward's own learning is used here. One dedupe variable per attribute, of the kind its
comparator names (no extra word-level variables, no corpora), dedupe's own sampling and active
learner, ``train()`` with its defaults, and ``partition`` (dedup) or a one-to-one ``join`` (link)
at threshold 0.5. The labels come from ``is_match``, one uncertain pair at a time, as a person
at dedupe's console labeller would answer them. Departures, each needed to run it at all or to
repeat it: the learner gets a sample of ``sample_size`` records per table (dedupe 3.0.3 ignores that
parameter and runs out of memory), everything random is seeded so a run can be repeated, and it
uses one core (``num_cores=1``, and one job for the classifier's grid search).

Plain data in and out, no Django: records are ``dict[record id, dict[attribute, raw value]]``;
the result per label budget is the predicted clusters (lists of two or more record ids; for a
link, each matched pair).
"""

from __future__ import annotations

import logging
import os
import random
import resource
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from typing import Any

import dedupe
import dedupe.core
import numpy
from dedupe.labeler import sample_records

from mastering.engine._seeding import SeededRandom, seeded
from mastering.engine.records import RecordId
from mastering.engine.variables import AttributeSpec, plain_variable, prepare_value

logger = logging.getLogger(__name__)

BASELINE_SAMPLE_SIZE = 1500
BASELINE_THRESHOLD = 0.5
# The records handed to dedupe carry their id under this key, so an answer can be looked up for the
# pair dedupe asks about; no dedupe variable reads it.
ID_KEY = "__baseline_record_id__"


@dataclass(frozen=True)
class SameCluster:
    """Answers a pair from a truth table (record id → cluster); picklable, so it can cross to a worker process."""

    cluster_of: Mapping[RecordId, str | None]

    def __call__(self, a: RecordId, b: RecordId) -> bool:
        cluster = self.cluster_of.get(a)
        return cluster is not None and cluster == self.cluster_of.get(b)


@dataclass
class BaselineResult:
    """dedupe's outcome at one label budget."""

    budget: int
    labels: int  # answers given (fewer than the budget when dedupe ran out of pairs to ask about)
    matches: int  # of which "match"
    clusters: list[list[RecordId]]  # predicted groups of two or more records; a link gives matched pairs
    seconds: float  # what a user with this budget waits: prepare + labelling + train + match
    timings: dict[str, float] = field(default_factory=dict)
    note: str = ""
    peak_rss_mb: float | None = None  # set by run_dedupe_baseline_isolated: the worker process's high-water mark


def dedupe_variable(spec: AttributeSpec) -> Any:
    """The one plain dedupe variable a dedupe user would declare for this attribute (missing values allowed)."""
    return plain_variable(replace(spec, has_missing=True))


def run_dedupe_baseline(
    records: Mapping[RecordId, Mapping[str, object]],
    *,
    specs: Sequence[AttributeSpec],
    is_match: Callable[[RecordId, RecordId], bool],
    labels: int | Sequence[int],
    seed: int,
    group_of: Mapping[RecordId, str] | None = None,
    sample_size: int = BASELINE_SAMPLE_SIZE,
) -> list[BaselineResult]:
    """Label with dedupe's own active learner up to each budget, train, match, and return the clusters per budget."""
    budgets = sorted({labels} if isinstance(labels, int) else set(labels))
    if not budgets or budgets[0] < 0:
        raise ValueError(f"Label budgets must be zero or more, got {labels!r}.")
    if not specs:
        raise ValueError("At least one attribute is needed to match records.")
    data = {rid: {**{s.name: prepare_value(s, raw.get(s.name)) for s in specs}, ID_KEY: rid} for rid, raw in records.items()}
    variables = [dedupe_variable(spec) for spec in specs]
    tables = _split(data, group_of)
    results: list[BaselineResult] = []
    with seeded(seed) as stream, _seeded_generators(stream):
        clock = time.perf_counter()
        # dedupe 3.0.3 accepts sample_size but ignores it: its learner takes 5,000 records (per table), and
        # the pairs its candidate rules cover in them are held in memory, which grows with the square of that
        # sample (about 23 GB, then the kernel's OOM kill, on 5,000 heavy-tailed people). So the learner is
        # handed a sample of `sample_size` records, drawn with dedupe's own sampler, as the parameter promises.
        if tables is None:
            matcher: Any = dedupe.Dedupe(variables, num_cores=1)
            matcher.prepare_training(sample_records(data, sample_size), sample_size=min(sample_size, len(data)))
        else:
            matcher = dedupe.RecordLink(variables, num_cores=1)
            matcher.prepare_training(*(sample_records(t, sample_size) for t in tables), sample_size=sample_size)
        # One core, like num_cores=1: dedupe's GridSearchCV would otherwise fit on every core through joblib, whose
        # idle worker processes keep a spawned interpreter from exiting for five minutes.
        matcher.classifier.n_jobs = 1
        prepare_s = time.perf_counter() - clock
        label_s = 0.0
        answered = matches = 0
        exhausted = False
        for budget in budgets:
            clock = time.perf_counter()
            while answered < budget and not exhausted:
                try:
                    pair = matcher.uncertain_pairs()[0]
                except IndexError:  # dedupe has nothing left to ask about
                    exhausted = True
                    break
                same = bool(is_match(pair[0][ID_KEY], pair[1][ID_KEY]))
                matcher.mark_pairs({"match": [pair] if same else [], "distinct": [] if same else [pair]})
                answered += 1
                matches += same
            label_s += time.perf_counter() - clock
            with _kept_for_more_labels(matcher, stream):
                clusters, timings, note = _train_and_match(matcher, data, tables, answered=answered, matches=matches)
            if exhausted:
                note = "; ".join(filter(None, [f"dedupe ran out of pairs to ask after {answered} labels", note]))
            timings = {"prepare_s": prepare_s, "label_s": label_s, **timings}
            results.append(BaselineResult(
                budget=budget, labels=answered, matches=matches, clusters=clusters,
                seconds=round(sum(timings.values()), 2), timings={k: round(v, 2) for k, v in timings.items()}, note=note,
            ))
    return results


def run_dedupe_baseline_isolated(**arguments: Any) -> list[BaselineResult]:
    """`run_dedupe_baseline` in a fresh interpreter: its memory high-water mark is its own, and dedupe's state stays there.

    The interpreter's string hashing is seeded too: dedupe walks sets of strings, so without it the
    same seed asks different questions from one process to the next.
    """
    saved = os.environ.get("PYTHONHASHSEED")
    os.environ["PYTHONHASHSEED"] = str(int(arguments.get("seed", 0)) % 2**32)
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            return pool.submit(_measured, arguments).result()
    finally:
        if saved is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = saved


def _measured(arguments: dict[str, Any]) -> list[BaselineResult]:
    results = run_dedupe_baseline(**arguments)
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for result in results:
        result.peak_rss_mb = peak
    return results


def _split(data: dict[RecordId, dict[str, object]], group_of: Mapping[RecordId, str] | None):
    if group_of is None:
        return None
    groups = sorted({group_of[rid] for rid in data})
    if len(groups) != 2:
        raise ValueError(f"A link needs records from exactly two groups, got {len(groups)}.")
    return tuple({rid: rec for rid, rec in data.items() if group_of[rid] == name} for name in groups)


def _train_and_match(matcher: Any, data, tables, *, answered: int, matches: int) -> tuple[list[list[RecordId]], dict, str]:
    if not matches or matches == answered:
        missing = "match" if not matches else "distinct"
        return [], {}, f"no {missing} answer among {answered} labels: dedupe cannot train, nothing matched"
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    try:
        matcher.train()
    except Exception as exc:  # a user would see dedupe fail here; the benchmark records it as no matches
        return [], {"train_s": time.perf_counter() - clock}, f"dedupe train() failed: {exc!r}"
    timings["train_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    try:
        if tables is None:
            found = matcher.partition(data, threshold=BASELINE_THRESHOLD)
            clusters = [[int(rid) for rid in ids] for ids, _ in found if len(ids) > 1]
        else:
            links = matcher.join(*tables, threshold=BASELINE_THRESHOLD, constraint="one-to-one")
            clusters = [[int(a), int(b)] for (a, b), _ in links]
    except dedupe.core.BlockingError as exc:
        return [], {**timings, "match_s": time.perf_counter() - clock}, f"dedupe blocked no pairs together: {exc}"
    timings["match_s"] = time.perf_counter() - clock
    return clusters, timings, ""


@contextmanager
def _kept_for_more_labels(matcher: Any, stream: SeededRandom) -> Iterator[None]:
    # dedupe 3.0.3's train() and matching reset the index predicates its active learner still uses (their
    # frozen block keys), after which labelling fails with NoIndexError. Put them back afterwards, with
    # the random state, so labelling goes on exactly as in a run that never stopped to train: the result
    # at a budget is the result of a run with that budget alone. (A deep copy of the matcher would do
    # too, at about a minute and 1.5 GB per copy on 5,000 records.)
    fingerprinter = matcher.active_learner.blocker.block_learner.blocker
    saved = [(p, p.index, p._cache, getattr(p, "canopy", None)) for p in fingerprinter.index_predicates]
    states = random.getstate(), numpy.random.get_state(), stream._python.getstate()
    try:
        yield
    finally:
        for predicate, index, cache, canopy in saved:
            predicate.index, predicate._cache = index, cache
            if canopy is not None:
                predicate.canopy = canopy
        random.setstate(states[0])
        numpy.random.set_state(states[1])
        stream._python.setstate(states[2])


@contextmanager
def _seeded_generators(stream: SeededRandom) -> Iterator[None]:
    # dedupe's learner and pair sampler make their own numpy Generators from OS entropy; hand them
    # seeded ones instead, so a run is repeatable. Nothing else about dedupe's behaviour changes.
    original = numpy.random.default_rng

    def default_rng(seed: Any = None) -> numpy.random.Generator:
        return original(seed) if seed is not None else stream.generator()

    numpy.random.default_rng = default_rng
    try:
        yield
    finally:
        numpy.random.default_rng = original

"""Bounded predicate coverage of a training sample, the part of dedupe's learner that grows with n².

dedupe's own `prepare_training` stores, for every candidate predicate, the set of sample pairs it
blocks together, as Python tuples. Broad predicates (Exists, a state column, "hundreds of the
street number") cover 20-100% of all pairs, which is why its memory grows with the square of
the sample (1.3 GB for 1,000 Febrl records). A predicate that broad can never be used to block a
real data set anyway, so it is left out here before its pairs are materialised, and the remaining
pairs are stored as single integers. Index predicates are left out as well: their block keys
depend on the indexed corpus, so they could not be written to a table and joined on.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import dedupe.blocking
import dedupe.branch_and_bound
import dedupe.training
import numpy
import numpy.typing

from mastering.engine.records import PreparedRecord

IntArray = numpy.typing.NDArray[numpy.int64]

# A predicate that blocks more than this share of the sample's pairs is too broad to block with...
DEFAULT_MAX_COVER_FRACTION = 0.01
# ...unless it compares only this many pairs in all: a small data set can afford to compare everything.
MIN_MAX_COVER = 10_000
# A learned blocking rule may compare at most this many pairs per record of the full data set
# (projected from the sample). Broader rules can still take part in conjunctions. Without this, rules
# that look cheap on a 3,000-record sample turn into blocks of hundreds at 100,000 records, which the
# block-size cap then drops, losing their matches (measured: blocking recall 0.88).
COMPARISONS_PER_RECORD = 2.0
# Full-data pair count any rule may reach regardless, so small data sets can use broad rules.
MIN_RULE_PAIRS = 10_000
# dedupe picks the cheapest rules that cover each labelled match once. A new duplicate whose one
# covering attribute was mistyped is then lost, so rules are added, best gain per comparison first,
# until no match depends on a single attribute and each is covered REDUNDANCY times, or the rules'
# comparisons reach TOTAL_COMPARISONS_PER_RECORD (at 100,000 people: blocking recall 0.976 -> 0.999).
REDUNDANCY = 4
TOTAL_COMPARISONS_PER_RECORD = 6.0
# How many rules per attribute, those covering the most matches, are tried in pairs.
CONJUNCTION_BASES_PER_FIELD = 5


def simple_predicates(predicates: Iterable[object]) -> list[object]:
    """Keep the predicates whose keys depend on the record alone (no corpus index)."""
    return sorted((p for p in predicates if not hasattr(p, "index")), key=repr)


class SampleCoverage(dedupe.training.BlockLearner):
    """The pairs of a record sample that each usable predicate would compare."""

    def __init__(
        self,
        predicates: Iterable[object],
        records: Sequence[PreparedRecord],
        groups: Sequence[str] | None = None,
        max_cover_fraction: float = DEFAULT_MAX_COVER_FRACTION,
        population: int | None = None,
    ) -> None:
        self.blocker = dedupe.blocking.Fingerprinter(simple_predicates(predicates))
        self.records = records
        self.n_records = len(records)
        self.population = max(population or 0, self.n_records)
        self._group_codes = _group_codes(groups) if groups is not None else None
        self.total_pairs = _total_pairs(self.n_records, self._group_codes)
        self.max_cover = max(MIN_MAX_COVER, int(max_cover_fraction * self.total_pairs))
        # Pairs scale with the square of the sampling rate: a rule covering k sample pairs
        # compares about k / rate² pairs in the full data.
        self.rule_budget, self.total_budget = self.budgets(self.population)
        self._codes: dict[object, IntArray] = {}
        self.comparison_cover: dict[object, frozenset[int]] = {}
        self.dropped_broad = 0
        self.candidates: list[tuple[int, int]] = []
        for predicate in self.blocker.predicates:
            codes = self._predicate_codes(predicate, records)
            if codes is None:
                self.dropped_broad += 1
            elif len(codes):
                self._codes[predicate] = codes
                self.comparison_cover[predicate] = frozenset(codes.tolist())

    def _predicate_codes(self, predicate: object, records: Sequence[PreparedRecord]) -> IntArray | None:
        blocks: dict[str, list[int]] = defaultdict(list)
        for position, record in enumerate(records):
            for key in predicate(record):  # type: ignore[operator]
                blocks[key].append(position)
        members = [numpy.array(b, dtype=numpy.int64) for b in blocks.values() if len(b) > 1]
        count = self._pair_count(members)
        # Too broad, or one block holding every record (as dedupe also skips): no use for blocking.
        if count > self.max_cover or count >= self.total_pairs:
            return None
        chunks = [self._block_codes(m) for m in members]
        chunks = [c for c in chunks if len(c)]
        if not chunks:
            return numpy.empty(0, dtype=numpy.int64)
        return numpy.unique(numpy.concatenate(chunks))

    def _pair_count(self, members: list[IntArray]) -> int:
        if self._group_codes is None:
            return sum(len(m) * (len(m) - 1) // 2 for m in members)
        total = 0
        for m in members:
            counts = numpy.bincount(self._group_codes[m])
            total += (len(m) ** 2 - int((counts**2).sum())) // 2
        return total

    def _block_codes(self, member: IntArray) -> IntArray:
        left, right = _upper_triangle(len(member))
        a, b = member[left], member[right]
        if self._group_codes is not None:
            cross = self._group_codes[a] != self._group_codes[b]
            a, b = a[cross], b[cross]
        return a * self.n_records + b

    def budgets(self, population: int) -> tuple[int, int]:
        """Sample-pair budgets for one rule and for all rules, for a data set of `population` records."""
        population = max(population, self.n_records)
        rate = self.n_records / population
        rule = max(MIN_RULE_PAIRS, COMPARISONS_PER_RECORD * population) * rate**2
        total = max(MIN_RULE_PAIRS, TOTAL_COMPARISONS_PER_RECORD * population) * rate**2
        return int(rule), int(total)

    def learn(
        self,
        matches: Sequence[tuple[PreparedRecord, PreparedRecord]],
        recall: float,
        index_predicates: bool,
        candidate_types: str = "simple",
        population: int | None = None,
    ) -> tuple[Any, ...]:
        """dedupe's BlockLearner.learn, with rules held to the comparison budget and made redundant.

        `candidate_types="random forest"` (training) also considers pairs of rules and adds redundant
        rules; "simple" (the active learner's running guess) takes the cheapest single-rule cover.
        """
        if not matches:
            return ()
        rule_budget, total_budget = self.budgets(population or self.population)
        match_cover = self.cover(matches, index_predicates=index_predicates)  # type: ignore[arg-type]
        match_cover = {p: cover for p, cover in match_cover.items() if p in self.comparison_cover}
        if not match_cover:
            return ()
        candidates = dedupe.training.simple_candidates(match_cover, self.comparison_cover)  # type: ignore[arg-type]
        if candidate_types == "random forest":
            candidates.update(self._conjunctions(match_cover, rule_budget))
        affordable = {p: cover for p, cover in candidates.items() if p.cover_count <= rule_budget}
        if not affordable:
            return ()
        coverable = len(frozenset.union(*affordable.values()))
        target = min(int(recall * len(matches)), coverable)
        chosen = list(dedupe.branch_and_bound.search(affordable, target, 2500))
        if candidate_types == "random forest":
            chosen += self._redundant_rules(affordable, chosen, total_budget)
        return tuple(chosen)

    def _conjunctions(self, match_cover: dict[Any, frozenset[int]], rule_budget: int) -> dict[Any, frozenset[int]]:
        # Replaces dedupe's random-forest search, which takes minutes with a thousand matches: pair
        # up, across attributes, the rules covering the most matches, where one is too broad alone.
        by_field: dict[str, list[Any]] = defaultdict(list)
        for predicate in sorted(match_cover, key=lambda p: (-len(match_cover[p]), p.cover_count, repr(p))):
            if len(by_field[predicate.field]) < CONJUNCTION_BASES_PER_FIELD:
                by_field[predicate.field].append(predicate)
        bases = sorted((p for ps in by_field.values() for p in ps), key=repr)
        found: dict[Any, frozenset[int]] = {}
        for i, first in enumerate(bases):
            for second in bases[i + 1 :]:
                if first.field == second.field or max(first.cover_count, second.cover_count) <= rule_budget:
                    continue
                both = match_cover[first] & match_cover[second]
                if not both:
                    continue
                conjunction = first + second
                conjunction.cover_count = len(numpy.intersect1d(self._codes[first], self._codes[second], assume_unique=True))
                found[conjunction] = both
        return found

    def _redundant_rules(self, affordable: dict[Any, frozenset[int]], chosen: list[Any], total_budget: int) -> list[Any]:
        # A match whose covering rules all read one attribute is lost when that attribute is mistyped;
        # rules are added, best gain per comparison first, until no match hangs on a single attribute
        # and each is covered REDUNDANCY times, or the comparison budget is spent.
        shared_fields: dict[int, frozenset[str]] = {}
        times_covered: dict[int, int] = defaultdict(int)

        def add(predicate: Any) -> None:
            fields = _fields(predicate)
            for match in affordable[predicate]:
                shared_fields[match] = shared_fields.get(match, fields) & fields
                times_covered[match] += 1

        def gain(predicate: Any) -> float:
            fields = _fields(predicate)
            total = 0
            for match in affordable[predicate]:
                shared = shared_fields.get(match)
                if shared is None or (shared and not shared <= fields):
                    total += 2
                if times_covered[match] < REDUNDANCY:
                    total += 1
            return total / (predicate.cover_count + 1)

        for predicate in chosen:
            add(predicate)
        spent = sum(p.cover_count for p in chosen)
        # Lazy greedy: a rule's gain only shrinks as others are added, so a re-scored entry that
        # still tops the heap is the true best.
        heap = [(-gain(p), p.cover_count, repr(p), p) for p in affordable if p not in chosen]
        heapq.heapify(heap)
        added: list[Any] = []
        while heap:
            _, cost, name, predicate = heapq.heappop(heap)
            current = gain(predicate)
            if current <= 0:
                continue
            if heap and -current > heap[0][0]:
                heapq.heappush(heap, (-current, cost, name, predicate))
                continue
            if spent + cost > total_budget:
                continue
            add(predicate)
            spent += cost
            added.append(predicate)
        return added

    def sample_pairs(self, size: int, rng: numpy.random.Generator, random_share: float) -> list[tuple[int, int]]:
        """Draw sample pairs worth asking about: mostly pairs that selective predicates block together."""
        n_random = min(int(round(size * random_share)), self.total_pairs)
        blocked = self._weighted_blocked_pairs(size - n_random, rng)
        randoms = self._random_pairs(n_random, rng, exclude=set(blocked.tolist()))
        codes = numpy.unique(numpy.concatenate([blocked, randoms]))
        # Kept so training can ask the classifier which of these pairs look like matches.
        self.candidates = [(int(c // self.n_records), int(c % self.n_records)) for c in codes]
        return self.candidates

    def _weighted_blocked_pairs(self, size: int, rng: numpy.random.Generator) -> IntArray:
        if not self._codes or size <= 0:
            return numpy.empty(0, dtype=numpy.int64)
        # As in dedupe: each predicate votes for the pairs it covers, a narrow predicate's vote counting more.
        all_codes = numpy.concatenate(list(self._codes.values()))
        votes = numpy.concatenate([numpy.full(len(c), 1.0 / len(c)) for c in self._codes.values()])
        unique, inverse = numpy.unique(all_codes, return_inverse=True)
        weights = numpy.bincount(inverse, weights=votes)
        if size >= len(unique):
            return unique
        chosen = rng.choice(len(unique), size=size, replace=False, p=weights / weights.sum())
        return unique[numpy.sort(chosen)]

    def _random_pairs(self, size: int, rng: numpy.random.Generator, exclude: set[int]) -> IntArray:
        found: set[int] = set()
        attempts = 0
        while len(found) < size and attempts < 50:
            attempts += 1
            a = rng.integers(0, self.n_records, size=2 * size)
            b = rng.integers(0, self.n_records, size=2 * size)
            keep = a != b
            if self._group_codes is not None:
                keep &= self._group_codes[a] != self._group_codes[b]
            lo, hi = numpy.minimum(a, b)[keep], numpy.maximum(a, b)[keep]
            for code in (lo * self.n_records + hi).tolist():
                if code not in exclude and len(found) < size:
                    found.add(code)
        return numpy.array(sorted(found), dtype=numpy.int64)

    def pair_count(self, predicates: Iterable[object]) -> int:
        """How many sample pairs a disjunction of learned (possibly compound) predicates compares."""
        chunks = [numpy.empty(0, dtype=numpy.int64)]
        for predicate in predicates:
            blocks: dict[str, list[int]] = defaultdict(list)
            for position, record in enumerate(self.records):
                for key in predicate(record):  # type: ignore[operator]
                    blocks[key].append(position)
            chunks += [self._block_codes(numpy.array(b, dtype=numpy.int64)) for b in blocks.values() if len(b) > 1]
        return len(numpy.unique(numpy.concatenate(chunks)))


_TRIANGLES: dict[int, tuple[IntArray, IntArray]] = {}


def _upper_triangle(n: int) -> tuple[IntArray, IntArray]:
    if n not in _TRIANGLES:
        left, right = numpy.triu_indices(n, 1)
        triangle = (left.astype(numpy.int64), right.astype(numpy.int64))
        if n > 256:
            return triangle
        _TRIANGLES[n] = triangle
    return _TRIANGLES[n]


def _fields(predicate: Any) -> frozenset[str]:
    return frozenset(part.field for part in predicate)


def _group_codes(groups: Sequence[str]) -> IntArray:
    names = {name: i for i, name in enumerate(sorted(set(groups)))}
    return numpy.array([names[g] for g in groups], dtype=numpy.int64)


def _total_pairs(n: int, group_codes: IntArray | None) -> int:
    if group_codes is None:
        return n * (n - 1) // 2
    counts = numpy.bincount(group_codes) if n else numpy.zeros(0, dtype=numpy.int64)
    return (n * n - int((counts**2).sum())) // 2

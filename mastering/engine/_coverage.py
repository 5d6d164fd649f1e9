"""Bounded predicate coverage of a training sample, the part of dedupe's learner that grows with n².

dedupe's own `prepare_training` stores, for every candidate predicate, the set of sample pairs it
blocks together, as Python tuples: broad predicates (a state column, a birth year) cover 20-100% of
all pairs, which is why its memory grows with the square of the sample (1.3 GB for 1,000 Febrl
records). Here every predicate keeps its blocks as memberships (`_blocks.Blocks`) and only narrow
ones keep their pairs, so broad predicates stay usable: inside conjunctions ("same birth year and
same birth month"), and alone where most of what they compare are matches (clusters of hundreds).

Rules are held to budgets of *wasted* comparisons, pairs that are not matches, projected from the
sample to the full data set: matches have to be compared whatever they cost, so data with large
clusters or many duplicates gets the comparisons it needs, while a rule that compares mostly
strangers stays out. Index predicates are left out: their block keys depend on the indexed corpus,
so they could not be written to a table and joined on.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dedupe.blocking
import dedupe.branch_and_bound
import dedupe.training
import numpy
import numpy.typing

from mastering.engine._blocks import Blocks, IntArray, conjoin, union_count, unpack
from mastering.engine.records import PreparedRecord

# A learned blocking rule may compare at most this many non-matching pairs per record of the full
# data set (projected from the sample). Without a bound, rules that look cheap on a 3,000-record
# sample turn into blocks of hundreds at 100,000 records (measured: blocking recall 0.88 once capped).
COMPARISONS_PER_RECORD = 2.0
# Non-matching pairs any one rule may compare regardless: a small data set can afford broad rules
# (a person register of 10,000 needs "same birth year and month", 80,000 pairs).
MIN_RULE_PAIRS = 100_000
# dedupe picks the cheapest rules that cover each labelled match once. A new duplicate whose one
# covering attribute was mistyped is then lost, so rules are added, best gain per comparison first,
# until no match depends on a single attribute and each is covered REDUNDANCY times, or the rules'
# wasted comparisons reach the total budget (at 100,000 people: blocking recall 0.976 -> 0.999).
REDUNDANCY = 4
TOTAL_COMPARISONS_PER_RECORD = 6.0
MIN_TOTAL_PAIRS = 300_000
# Block keys (match-index rows) a rule, and all rules together, may give a record on average. A rule of two
# n-gram predicates gives the product of their keys: narrow enough for a million records' pair budget,
# but "commonSixGram(address_1) & commonSixGram(soc_sec_id)" alone is 16 keys a record, and the rules
# learned on 1,000,000 heavy-tail people made 123, an hour of index writes. Small data sets may spend
# more per record, up to the MIN_* key counts in all.
KEYS_PER_RECORD = 6.0
MIN_RULE_KEYS = 1_000_000
TOTAL_KEYS_PER_RECORD = 16.0
MIN_TOTAL_KEYS = 4_000_000
# Only predicates comparing at most this share of the sample's pairs (or VOTING_MIN pairs) vote for the
# pairs the learner asks about: broad ones would fill its pool with strangers (DBLP-ACM at 50 labels:
# F1 0.92 with every predicate voting, 0.985 with narrow ones only).
VOTING_SHARE = 0.01
VOTING_MIN = 10_000
# How many rules per attribute, those covering the most matches, are tried in pairs; none that compares
# over BASE_SHARE of the sample's pairs.
CONJUNCTION_BASES_PER_FIELD = 6
BASE_SHARE = 0.5
# Member positions of conjunctions kept between trainings (8 bytes each: 160 MB at most).
CONJUNCTION_MEMBERS_KEPT = 20_000_000
# Pairs drawn from a rule's blocks to estimate the share of them that are matches, for every rule over
# the budget. (Rules under 2,000 pairs used to be billed in full: at a million records the budget is 18
# sample pairs, so a one-key rule over 500 pairs of one cluster was out, while an n-gram conjunction, its
# pairs counted once per key they share, passed 2,000, was found to be all matches, and won.)
PRECISION_SAMPLE = 64

MatchProbability = Callable[[IntArray, IntArray], numpy.typing.NDArray[numpy.float64]]


@dataclass(frozen=True)
class Budgets:
    """Non-matching sample pairs one rule, and all rules together, may compare; block keys per record likewise."""

    rule: int
    total: int
    rule_keys: float = float("inf")
    total_keys: float = float("inf")


def simple_predicates(predicates: Iterable[object]) -> list[object]:
    """Keep the predicates whose keys depend on the record alone (no corpus index)."""
    return sorted((p for p in predicates if not hasattr(p, "index")), key=repr)


class SampleCoverage(dedupe.training.BlockLearner):
    """The blocks each usable predicate makes of a record sample, and the rules learned from them."""

    def __init__(
        self,
        predicates: Iterable[object],
        records: Sequence[PreparedRecord],
        groups: Sequence[str] | None = None,
        population: int | None = None,
    ) -> None:
        self.blocker = dedupe.blocking.Fingerprinter(simple_predicates(predicates))
        self.records = records
        self.n_records = len(records)
        self.population = max(population or 0, self.n_records)
        self.group_codes = _group_codes(groups) if groups is not None else None
        self.total_pairs = _total_pairs(self.n_records, self.group_codes)
        self.blocks: dict[object, Blocks] = {}
        self._key_counts: dict[object, IntArray] = {}
        self.candidates: list[tuple[int, int]] = []
        # Conjunctions depend on the sample alone, so every training reuses them (bounded, see CONJUNCTION_MEMBERS_KEPT).
        self._conjoined: dict[tuple[Any, Any], Blocks] = {}
        self._conjoined_members = 0
        for predicate in self.blocker.predicates:
            blocks = self._predicate_blocks(predicate)
            # A predicate putting every record in one block (as dedupe also skips) cannot block anything.
            if blocks.pairs and blocks.pairs < self.total_pairs:
                self.blocks[predicate] = blocks

    @property
    def comparison_cover(self) -> dict[object, Blocks]:  # type: ignore[override]
        """dedupe's name for what each usable predicate compares."""
        return self.blocks

    def _predicate_blocks(self, predicate: Any) -> Blocks:
        key_codes: dict[str, int] = {}
        positions: list[int] = []
        keys: list[int] = []
        for position, record in enumerate(self.records):
            # Keys come as a frozenset, whose order follows the string hash (PYTHONHASHSEED): numbered
            # in that order, blocks and so the pairs `Blocks.sample` draws would differ between processes.
            for key in sorted(predicate(record)):
                positions.append(position)
                keys.append(key_codes.setdefault(key, len(key_codes)))
        at = numpy.array(positions, dtype=numpy.int64)
        self._key_counts[predicate] = numpy.bincount(at, minlength=self.n_records)
        return Blocks.from_keys(at, numpy.array(keys, dtype=numpy.int64), self.group_codes)

    def keys_per_record(self, rule: Any) -> float:
        """Block keys a (possibly compound) rule gives a sample record on average: a conjunction gives one per
        combination of its parts' keys, as dedupe's compound predicates do."""
        counts = numpy.ones(self.n_records)
        for part in rule:
            if part not in self._key_counts:
                self._predicate_blocks(part)
            counts = counts * self._key_counts[part]
        return float(counts.mean()) if self.n_records else 0.0

    def budgets(self, population: int) -> Budgets:
        """Sample-pair budgets of non-matches for one rule and for all rules, for `population` records."""
        population = max(population, self.n_records)
        # Pairs scale with the square of the sampling rate: a rule covering k sample pairs
        # compares about k / rate² pairs in the full data.
        rate2 = (self.n_records / population) ** 2
        rule = max(MIN_RULE_PAIRS, COMPARISONS_PER_RECORD * population) * rate2
        total = max(MIN_TOTAL_PAIRS, TOTAL_COMPARISONS_PER_RECORD * population) * rate2
        rule_keys = max(MIN_RULE_KEYS / population, KEYS_PER_RECORD)
        total_keys = max(MIN_TOTAL_KEYS / population, TOTAL_KEYS_PER_RECORD)
        return Budgets(int(rule), int(total), rule_keys, total_keys)

    def projected_pairs(self, sample_pairs: float, population: int | None = None) -> float:
        """Pairs of the full data set that `sample_pairs` compared pairs of the sample stand for."""
        population = max(population or self.population, self.n_records)
        return sample_pairs * (population / self.n_records) ** 2

    def learn(
        self,
        matches: Sequence[tuple[PreparedRecord, PreparedRecord]],
        recall: float,
        index_predicates: bool,
        candidate_types: str = "simple",
        population: int | None = None,
        match_probability: MatchProbability | None = None,
        rng: numpy.random.Generator | None = None,
        known_waste: dict[Any, float] | None = None,
    ) -> tuple[Any, ...]:
        """dedupe's BlockLearner.learn, with rules held to the budgets of wasted comparisons and made redundant.

        `candidate_types="random forest"` (training) also considers pairs of rules and adds redundant
        rules; "simple" (the active learner's running guess) takes the cheapest single-rule cover.
        `match_probability` (the classifier, on sample positions) lets a rule's matches go unbilled;
        `known_waste`, shared between calls with the same classifier, keeps what was measured.
        """
        if not matches:
            return ()
        budgets = self.budgets(population or self.population)
        match_cover = self.cover(matches, index_predicates=False)  # type: ignore[arg-type]
        match_cover = {p: cover for p, cover in match_cover.items() if p in self.blocks}
        if not match_cover:
            return ()
        blocks: dict[Any, Blocks] = {p: self.blocks[p] for p in match_cover}
        candidates = dict(match_cover)
        if candidate_types == "random forest":
            conjunctions = self._conjunctions(match_cover, budgets)
            blocks.update({p: b for p, (b, _) in conjunctions.items()})
            candidates.update({p: cover for p, (_, cover) in conjunctions.items()})
        waste = _Waste(blocks, match_probability, rng or numpy.random.default_rng(0), self.group_codes, known_waste)
        for predicate in candidates:
            predicate.cover_count = blocks[predicate].pairs
        waste.discount(candidates, budgets.rule)
        affordable = {p: cover for p, cover in candidates.items()
                      if waste(p) <= budgets.rule and self.keys_per_record(p) <= budgets.rule_keys}
        if not affordable:
            return ()
        coverable = len(frozenset.union(*affordable.values()))
        target = min(int(recall * len(matches)), coverable)
        chosen = list(dedupe.branch_and_bound.search(affordable, target, 2500))
        if candidate_types == "random forest":
            chosen += self._redundant_rules(affordable, chosen, budgets, waste)
        self.last_blocks = {p: blocks[p].stored(self.group_codes) for p in chosen}
        return tuple(chosen)

    def _conjunctions(self, match_cover: dict[Any, frozenset[int]], budgets: Budgets) -> dict[Any, tuple[Blocks, frozenset[int]]]:
        # Replaces dedupe's random-forest search, which takes minutes with a thousand matches: pair
        # up, across attributes, the rules covering the most matches, where one is too broad alone.
        # Bases are taken among predicates within the keys budget (n-gram predicates cover the most
        # matches, but two of them together give a record dozens of keys), and so are their pairs; a
        # predicate comparing most pairs ("has a birth date") covers every match but narrows nothing.
        by_field: dict[str, list[Any]] = defaultdict(list)
        for predicate in sorted(match_cover, key=lambda p: (-len(match_cover[p]), self.blocks[p].pairs, repr(p))):
            if len(by_field[predicate.field]) < CONJUNCTION_BASES_PER_FIELD and \
                    self.blocks[predicate].pairs <= BASE_SHARE * self.total_pairs and \
                    self.keys_per_record(predicate) <= budgets.rule_keys:
                by_field[predicate.field].append(predicate)
        bases = sorted((p for ps in by_field.values() for p in ps), key=repr)
        found: dict[Any, tuple[Blocks, frozenset[int]]] = {}
        for i, first in enumerate(bases):
            for second in bases[i + 1 :]:
                if first.field == second.field or max(self.blocks[first].pairs, self.blocks[second].pairs) <= budgets.rule:
                    continue
                if self.keys_per_record(first + second) > budgets.rule_keys:
                    continue
                both = match_cover[first] & match_cover[second]
                if not both:
                    continue
                blocks = self._conjoin(first, second)
                if blocks.pairs:
                    found[first + second] = (blocks, both)
        return found

    def _conjoin(self, first: Any, second: Any) -> Blocks:
        key = (first, second)
        if key not in self._conjoined:
            # Counted from block sizes only: pairs are stored for the few conjunctions chosen.
            blocks = conjoin(self.blocks[first], self.blocks[second], self.n_records, self.group_codes, limit=0)
            if self._conjoined_members + 2 * len(blocks.records) > CONJUNCTION_MEMBERS_KEPT:
                return blocks
            self._conjoined_members += 2 * len(blocks.records)
            self._conjoined[key] = blocks
        return self._conjoined[key]

    def _redundant_rules(self, affordable: dict[Any, frozenset[int]], chosen: list[Any], budgets: Budgets,
                         waste: _Waste) -> list[Any]:
        # A match whose covering rules all read one attribute is lost when that attribute is mistyped;
        # rules are added, best gain per comparison first, until no match hangs on a single attribute
        # and each is covered REDUNDANCY times, or the budget of wasted comparisons (or of block keys) is spent.
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
        spent = sum(waste(p) for p in chosen)
        keys = sum(self.keys_per_record(p) for p in chosen)
        # Lazy greedy: a rule's gain only shrinks as others are added, so a re-scored entry that
        # still tops the heap is the true best.
        heap = [(-gain(p), p.cover_count, repr(p), p) for p in affordable if p not in chosen]
        heapq.heapify(heap)
        added: list[Any] = []
        while heap:
            _, _, name, predicate = heapq.heappop(heap)
            current = gain(predicate)
            if current <= 0:
                continue
            if heap and -current > heap[0][0]:
                heapq.heappush(heap, (-current, predicate.cover_count, name, predicate))
                continue
            cost, more_keys = waste(predicate), self.keys_per_record(predicate)
            if spent + cost > budgets.total or keys + more_keys > budgets.total_keys:
                continue
            add(predicate)
            spent += cost
            keys += more_keys
            added.append(predicate)
        return added

    def sample_pairs(self, size: int, rng: numpy.random.Generator, random_share: float) -> list[tuple[int, int]]:
        """Draw sample pairs worth asking about: mostly pairs that selective predicates block together."""
        n_random = min(int(round(size * random_share)), self.total_pairs)
        blocked = self._weighted_blocked_pairs(size - n_random, rng)
        randoms = self._random_pairs(n_random, rng, exclude=set(blocked.tolist()))
        codes = numpy.unique(numpy.concatenate([blocked, randoms]))
        a, b = unpack(codes)
        # Kept so training can ask the classifier which of these pairs look like matches.
        self.candidates = list(zip(a.tolist(), b.tolist()))
        return self.candidates

    def _weighted_blocked_pairs(self, size: int, rng: numpy.random.Generator) -> IntArray:
        narrow = max(VOTING_MIN, VOTING_SHARE * self.total_pairs)
        stored = [b.codes for b in self.blocks.values() if b.codes is not None and 0 < len(b.codes) <= narrow]
        if not stored or size <= 0:
            return numpy.empty(0, dtype=numpy.int64)
        # As in dedupe: each predicate votes for the pairs it covers, a narrow predicate's vote counting more.
        all_codes = numpy.concatenate(stored)
        votes = numpy.concatenate([numpy.full(len(c), 1.0 / len(c)) for c in stored])
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
            if self.group_codes is not None:
                keep &= self.group_codes[a] != self.group_codes[b]
            lo, hi = numpy.minimum(a, b)[keep], numpy.maximum(a, b)[keep]
            for code in ((lo << 32) | hi).tolist():
                if code not in exclude and len(found) < size:
                    found.add(code)
        return numpy.array(sorted(found), dtype=numpy.int64)

    def pair_count(self, predicates: Iterable[object]) -> int:
        """How many sample pairs a disjunction of learned (possibly compound) predicates compares."""
        known = getattr(self, "last_blocks", {})
        return union_count([known[p] if p in known else self._predicate_blocks(p) for p in predicates])


class _Waste:
    """The non-matching sample pairs a rule compares: all of them, less the share the classifier calls matches."""

    def __init__(self, blocks: dict[Any, Blocks], match_probability: MatchProbability | None,
                 rng: numpy.random.Generator, group_codes: IntArray | None, known: dict[Any, float] | None = None) -> None:
        self.blocks = blocks
        self.match_probability = match_probability
        self.rng = rng
        self.group_codes = group_codes
        self._known: dict[Any, float] = {} if known is None else known

    def __call__(self, predicate: Any) -> float:
        pairs = self.blocks[predicate].pairs
        return self._known.get(predicate, float(pairs))

    def discount(self, predicates: Iterable[Any], budget: int) -> None:
        """Estimate, for rules over `budget`, the share of their pairs that are matches; matches are not waste."""
        if self.match_probability is None:
            return
        over = [p for p in predicates if self.blocks[p].pairs > budget and p not in self._known]
        # A few pairs first, for every rule at once; only a rule that could come within budget gets more.
        for size in (PRECISION_SAMPLE // 4, PRECISION_SAMPLE):
            drawn = {p: self.blocks[p].sample(size, self.rng, self.group_codes) for p in over}
            codes = numpy.concatenate(list(drawn.values())) if drawn else numpy.empty(0, dtype=numpy.int64)
            if not len(codes):
                return
            matches = self.match_probability(*unpack(codes)) > 0.5
            bounds = numpy.cumsum([0] + [len(c) for c in drawn.values()])
            promising = []
            for (predicate, sample), start, stop in zip(drawn.items(), bounds[:-1], bounds[1:]):
                share = float(matches[start:stop].mean()) if len(sample) else 0.0
                pairs = self.blocks[predicate].pairs
                self._known[predicate] = pairs * (1.0 - share)
                # Two more non-matches in the small draw than the budget allows: no larger draw will save it.
                if pairs * (1.0 - share) - 2 * pairs / max(len(sample), 1) <= budget:
                    promising.append(predicate)
            over = promising


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

"""Candidate pairs from block keys, within a budget of pairs.

Blocks are taken smallest first until the pairs they compare reach the model's pair budget
(`block_size_cap`); blocks up to DEFAULT_MAX_BLOCK_SIZE records are always taken. A block of
hundreds is then compared when the data can afford it (a cluster of 300 records is one such block)
and skipped only where it would crowd out everything else (every "smith" of a million people).

The app writes `Matcher.blocking_keys` rows to a table and joins it on (predicate, key); this module
is the same join in Python, for benchmarks, tests and small data. In SQL the capped join reads:

    WITH usable AS (
        SELECT predicate, key FROM block_key GROUP BY predicate, key
        HAVING COUNT(*) BETWEEN 2 AND :max_block_size)
    SELECT DISTINCT a.record_id, b.record_id
    FROM block_key a JOIN usable u USING (predicate, key) JOIN block_key b USING (predicate, key)
    WHERE a.record_id < b.record_id            -- link tasks add: AND a.source <> b.source
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy
import numpy.typing

from mastering.engine.records import RecordId

IntArray = numpy.typing.NDArray[numpy.int64]
_MAX_ID = 2**31

# Blocks of up to this many records are always compared. Larger ones are compared while the pair
# budget lasts: their pairs are mostly non-matches, and one such block (say every "smith") can cost
# more comparisons than the rest of the data. The budget grows linearly with the records, so the
# pair count does too.
DEFAULT_MAX_BLOCK_SIZE = 50
# A model's pair budget: this many times the pairs its rules compared on the training sample,
# projected to the data set's size, and at least MIN_PAIR_BUDGET (small data sets compare freely).
PAIR_BUDGET_HEADROOM = 3.0
MIN_PAIR_BUDGET = 200_000


def pair_budget(pairs_per_record: float | None, n_records: int) -> int | None:
    """Pairs a run over `n_records` may compare, for rules expected to compare `pairs_per_record` each."""
    if pairs_per_record is None:
        return None
    return int(max(MIN_PAIR_BUDGET, PAIR_BUDGET_HEADROOM * pairs_per_record * n_records))


class BlockKey(NamedTuple):
    """One block a record falls into: the predicate's position in `Matcher.predicates()`, and its key."""

    predicate: int
    key: str
    record_id: RecordId


@dataclass(frozen=True)
class PredicateReport:
    """What one blocking predicate contributed."""

    predicate: int
    name: str
    blocks: int
    capped_blocks: int
    capped_records: int
    pairs: int
    new_pairs: int


@dataclass(frozen=True)
class CandidatePairs:
    """Distinct pairs to compare (smaller id first, sorted) and a per-predicate account of them."""

    pairs: IntArray
    per_predicate: list[PredicateReport]

    def __len__(self) -> int:
        return len(self.pairs)


def candidate_pairs(
    keys: Iterable[BlockKey],
    *,
    pair_budget: int | None = None,
    max_block_size: int | None = None,
    group_of: Mapping[RecordId, str] | None = None,
    predicate_names: Sequence[str] = (),
) -> CandidatePairs:
    """Join block keys into distinct candidate pairs, skipping blocks over `max_block_size` or, by default,
    the largest blocks that do not fit `pair_budget` (`Matcher.pair_budget`)."""
    columns: dict[int, tuple[list[str], list[RecordId]]] = defaultdict(lambda: ([], []))
    for predicate, key, rid in keys:
        column = columns[predicate]
        column[0].append(key)
        column[1].append(rid)
    grouped = {predicate: _blocks(*columns.pop(predicate)) for predicate in sorted(columns)}
    if max_block_size is None:
        sizes: dict[int, int] = defaultdict(int)
        for _, _, block_sizes, _ in grouped.values():
            for size, count in zip(*numpy.unique(block_sizes[block_sizes > 1], return_counts=True)):
                sizes[int(size)] += int(count)
        max_block_size = block_size_cap(sizes, pair_budget)
    group_codes = _group_codes(group_of) if group_of is not None else None
    seen = numpy.empty(0, dtype=numpy.int64)
    reports = []
    for predicate, blocks in grouped.items():
        codes, report = _predicate_pairs(*blocks, max_block_size, group_codes)
        new = numpy.setdiff1d(codes, seen, assume_unique=True)
        seen = numpy.union1d(seen, new)
        name = predicate_names[predicate] if predicate < len(predicate_names) else str(predicate)
        reports.append(PredicateReport(predicate=predicate, name=name, new_pairs=len(new), **report))
    pairs = numpy.stack([seen >> 32, seen & 0xFFFFFFFF], axis=1) if len(seen) else numpy.empty((0, 2), dtype=numpy.int64)
    return CandidatePairs(pairs=pairs, per_predicate=reports)


def block_size_cap(blocks_by_size: Mapping[int, int], pair_budget: int | None) -> int:
    """The largest block size such that every block of that size or smaller compares at most `pair_budget` pairs.

    `blocks_by_size` counts the blocks of each size. Never below DEFAULT_MAX_BLOCK_SIZE; without a budget
    (models trained before budgets existed) exactly that.
    """
    cap = DEFAULT_MAX_BLOCK_SIZE
    if pair_budget is None:
        return cap
    spent = 0
    for size in sorted(blocks_by_size):
        spent += blocks_by_size[size] * size * (size - 1) // 2
        if spent > pair_budget:
            break
        cap = max(cap, size)
    return cap


def _blocks(block_keys: list[str], record_ids: list[RecordId]) -> tuple[IntArray, IntArray, IntArray, int]:
    """Record ids sorted by block, with each block's start and size, and how many distinct keys there were."""
    key_codes: dict[str, int] = {}
    blocks = numpy.fromiter((key_codes.setdefault(k, len(key_codes)) for k in block_keys), numpy.int64, len(block_keys))
    ids = numpy.array(record_ids, dtype=numpy.int64)
    if len(ids) and (ids.min() < 0 or ids.max() >= _MAX_ID):
        raise ValueError(f"Record ids must be in [0, 2**31) to be paired here; got {ids.min()}..{ids.max()}.")
    order = numpy.lexsort((ids, blocks))
    blocks, ids = blocks[order], ids[order]
    starts = numpy.flatnonzero(numpy.r_[True, blocks[1:] != blocks[:-1]]) if len(blocks) else blocks
    sizes = numpy.diff(numpy.r_[starts, len(blocks)])
    return ids, starts, sizes, len(key_codes)


def _predicate_pairs(
    ids: IntArray, starts: IntArray, sizes: IntArray, n_blocks: int, cap: int, group_codes: IntArray | None
) -> tuple[IntArray, dict[str, int]]:
    oversized = sizes > cap
    chunks = [numpy.empty(0, dtype=numpy.int64)]
    # Blocks of equal size are paired in one vectorised step: members form a (blocks, size) matrix.
    for size in numpy.unique(sizes[(sizes >= 2) & ~oversized]).tolist():
        members = ids[starts[sizes == size][:, None] + numpy.arange(size)]
        left, right = numpy.triu_indices(size, 1)
        a, b = members[:, left].ravel(), members[:, right].ravel()
        keep = a != b
        if group_codes is not None:
            keep &= group_codes[a] != group_codes[b]
        # Ids are below 2**31, so a pair packs into one int64 for fast set operations.
        chunks.append((a[keep] << 32) | b[keep])
    codes = numpy.unique(numpy.concatenate(chunks))
    report = {
        "blocks": n_blocks,
        "capped_blocks": int(oversized.sum()),
        "capped_records": int(sizes[oversized].sum()),
        "pairs": len(codes),
    }
    return codes, report


def _group_codes(group_of: Mapping[RecordId, str]) -> IntArray:
    # A dense lookup array indexed by record id (ids are bounded by _MAX_ID; -1 marks "no group").
    names = {name: i for i, name in enumerate(sorted(set(group_of.values())))}
    lookup = numpy.full(max(group_of, default=-1) + 1, -1, dtype=numpy.int64)
    for rid, name in group_of.items():
        lookup[rid] = names[name]
    return lookup

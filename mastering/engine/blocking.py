"""Candidate pairs from block keys, with a cap on block size.

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

# A block of more records than this is skipped: its pairs are mostly non-matches, and one such block
# (say every "smith") costs more comparisons than the rest of the data. Blocks grow with the data, so
# the cap is what keeps the pair count roughly linear in the number of records.
DEFAULT_MAX_BLOCK_SIZE = 50


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
    max_block_size: int = DEFAULT_MAX_BLOCK_SIZE,
    group_of: Mapping[RecordId, str] | None = None,
    predicate_names: Sequence[str] = (),
) -> CandidatePairs:
    """Join block keys into distinct candidate pairs, skipping blocks larger than `max_block_size`."""
    columns: dict[int, tuple[list[str], list[RecordId]]] = defaultdict(lambda: ([], []))
    for predicate, key, rid in keys:
        column = columns[predicate]
        column[0].append(key)
        column[1].append(rid)
    group_codes = _group_codes(group_of) if group_of is not None else None
    seen = numpy.empty(0, dtype=numpy.int64)
    reports = []
    for predicate in sorted(columns):
        block_keys, record_ids = columns.pop(predicate)
        codes, report = _predicate_pairs(block_keys, record_ids, max_block_size, group_codes)
        new = numpy.setdiff1d(codes, seen, assume_unique=True)
        seen = numpy.union1d(seen, new)
        name = predicate_names[predicate] if predicate < len(predicate_names) else str(predicate)
        reports.append(PredicateReport(predicate=predicate, name=name, new_pairs=len(new), **report))
    pairs = numpy.stack([seen >> 32, seen & 0xFFFFFFFF], axis=1) if len(seen) else numpy.empty((0, 2), dtype=numpy.int64)
    return CandidatePairs(pairs=pairs, per_predicate=reports)


def _predicate_pairs(
    block_keys: list[str],
    record_ids: list[RecordId],
    cap: int,
    group_codes: IntArray | None,
) -> tuple[IntArray, dict[str, int]]:
    key_codes: dict[str, int] = {}
    blocks = numpy.fromiter((key_codes.setdefault(k, len(key_codes)) for k in block_keys), numpy.int64, len(block_keys))
    ids = numpy.array(record_ids, dtype=numpy.int64)
    if len(ids) and (ids.min() < 0 or ids.max() >= _MAX_ID):
        raise ValueError(f"Record ids must be in [0, 2**31) to be paired here; got {ids.min()}..{ids.max()}.")
    order = numpy.lexsort((ids, blocks))
    blocks, ids = blocks[order], ids[order]
    starts = numpy.flatnonzero(numpy.r_[True, blocks[1:] != blocks[:-1]]) if len(blocks) else blocks
    sizes = numpy.diff(numpy.r_[starts, len(blocks)])
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
        "blocks": len(key_codes),
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

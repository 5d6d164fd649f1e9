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
    blocks: dict[int, dict[str, list[RecordId]]] = defaultdict(lambda: defaultdict(list))
    for predicate, key, rid in keys:
        blocks[predicate][key].append(rid)
    group_codes = _group_codes(group_of) if group_of is not None else None
    seen = numpy.empty(0, dtype=numpy.int64)
    reports = []
    for predicate in sorted(blocks):
        codes, report = _predicate_pairs(predicate, blocks.pop(predicate), max_block_size, group_codes)
        new = numpy.setdiff1d(codes, seen, assume_unique=True)
        seen = numpy.union1d(seen, new)
        name = predicate_names[predicate] if predicate < len(predicate_names) else str(predicate)
        reports.append(PredicateReport(predicate=predicate, name=name, new_pairs=len(new), **report))
    pairs = numpy.stack([seen >> 32, seen & 0xFFFFFFFF], axis=1) if len(seen) else numpy.empty((0, 2), dtype=numpy.int64)
    return CandidatePairs(pairs=pairs, per_predicate=reports)


def _predicate_pairs(
    predicate: int,
    blocks: Mapping[str, list[RecordId]],
    cap: int,
    group_codes: Mapping[RecordId, int] | None,
) -> tuple[IntArray, dict[str, int]]:
    chunks = []
    capped = capped_records = 0
    for members in blocks.values():
        if len(members) < 2:
            continue
        if len(members) > cap:
            capped += 1
            capped_records += len(members)
            continue
        ids = numpy.unique(numpy.array(members, dtype=numpy.int64))
        if ids[0] < 0 or ids[-1] >= _MAX_ID:
            raise ValueError(f"Record ids must be in [0, 2**31) to be paired here; got {ids[0]}..{ids[-1]}.")
        left, right = numpy.triu_indices(len(ids), 1)
        a, b = ids[left], ids[right]
        if group_codes is not None:
            groups = numpy.array([group_codes[int(r)] for r in ids], dtype=numpy.int64)
            cross = groups[left] != groups[right]
            a, b = a[cross], b[cross]
        # Ids are below 2**31 in practice, so a pair packs into one int64 for fast set operations.
        chunks.append((a << 32) | b)
    codes = numpy.unique(numpy.concatenate(chunks)) if chunks else numpy.empty(0, dtype=numpy.int64)
    report = {"blocks": len(blocks), "capped_blocks": capped, "capped_records": capped_records, "pairs": len(codes)}
    return codes, report


def _group_codes(group_of: Mapping[RecordId, str]) -> dict[RecordId, int]:
    names = {name: i for i, name in enumerate(sorted(set(group_of.values())))}
    return {rid: names[name] for rid, name in group_of.items()}

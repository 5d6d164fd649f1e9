"""The blocks one predicate (or a conjunction of predicates) makes of a record sample, held as arrays.

A predicate's blocks are kept as memberships (record position, block number) rather than as the
pairs they compare, so a broad predicate ("same birth year") costs memory in proportion to the
records, not to the square of them: its pairs are counted and sampled from the blocks, and
conjunctions with other predicates are formed from the memberships. Only predicates that compare
few enough pairs also keep those pairs, packed into one int64 each (`pack`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy
import numpy.typing

IntArray = numpy.typing.NDArray[numpy.int64]

# Pairs of sample records a predicate may compare and still have them stored (8 bytes each).
MATERIALISE_LIMIT = 200_000
# Keys a conjunction may give the sample's records in all.
MAX_CONJUNCTION_KEYS = 5_000_000
_EMPTY = numpy.empty(0, dtype=numpy.int64)


def pack(a: IntArray, b: IntArray) -> IntArray:
    """Pack position pairs (a < b, both below 2**31) into single int64 codes."""
    return (a << 32) | b


def unpack(codes: IntArray) -> tuple[IntArray, IntArray]:
    """The (a, b) positions of packed pair codes."""
    return codes >> 32, codes & 0xFFFFFFFF


@dataclass(frozen=True)
class Blocks:
    """Blocks of two or more sample records (for link tasks: holding records of two groups or more)."""

    records: IntArray  # member positions, block after block, ascending within a block
    starts: IntArray  # where each block begins in `records`
    sizes: IntArray
    pairs: int  # sample pairs compared: exact when `codes` is kept, else the sum over blocks (an upper bound)
    codes: IntArray | None  # the distinct pairs compared, packed, when there are at most MATERIALISE_LIMIT

    @classmethod
    def from_keys(cls, positions: IntArray, keys: IntArray, group_codes: IntArray | None = None,
                  limit: int = MATERIALISE_LIMIT) -> Blocks:
        """Group (record position, block key) memberships into blocks; a record appears at most once per key."""
        order = numpy.lexsort((positions, keys))
        positions, keys = positions[order], keys[order]
        if not len(keys):
            return cls(_EMPTY, _EMPTY, _EMPTY, 0, _EMPTY)
        starts = numpy.flatnonzero(numpy.r_[True, keys[1:] != keys[:-1]])
        sizes = numpy.diff(numpy.r_[starts, len(keys)])
        keep = sizes > 1
        starts, sizes = starts[keep], sizes[keep]
        members = _take_blocks(positions, starts, sizes)
        starts = numpy.r_[0, numpy.cumsum(sizes)[:-1]].astype(numpy.int64) if len(sizes) else _EMPTY
        counts = _block_pair_counts(members, starts, sizes, group_codes)
        if group_codes is not None:
            useful = counts > 0
            members = _take_blocks(members, starts[useful], sizes[useful])
            sizes, counts = sizes[useful], counts[useful]
            starts = numpy.r_[0, numpy.cumsum(sizes)[:-1]].astype(numpy.int64) if len(sizes) else _EMPTY
        upper = int(counts.sum())
        codes = pair_codes(members, starts, sizes, group_codes) if upper <= limit else None
        return cls(members, starts, sizes, len(codes) if codes is not None else upper, codes)

    def stored(self, group_codes: IntArray | None = None, limit: int = MATERIALISE_LIMIT) -> Blocks:
        """These blocks with their pairs stored (and counted exactly), when there are few enough."""
        if self.codes is not None or self.pairs > limit:
            return self
        codes = pair_codes(self.records, self.starts, self.sizes, group_codes)
        return Blocks(self.records, self.starts, self.sizes, len(codes), codes)

    def by_record(self) -> tuple[IntArray, IntArray]:
        """Memberships as (record position, block number), sorted by record."""
        block = numpy.repeat(numpy.arange(len(self.sizes), dtype=numpy.int64), self.sizes)
        order = numpy.argsort(self.records, kind="stable")
        return self.records[order], block[order]

    @property
    def block_pairs(self) -> int:
        """Pairs counted block by block (a pair two blocks share counts twice), as a run's pair budget counts them."""
        return int((self.sizes * (self.sizes - 1) // 2).sum())

    @property
    def largest(self) -> int:
        return int(self.sizes.max()) if len(self.sizes) else 0

    def sample(self, size: int, rng: numpy.random.Generator, group_codes: IntArray | None = None) -> IntArray:
        """Up to `size` compared pairs (packed), drawn at random with replacement."""
        if not self.pairs or size <= 0:
            return _EMPTY
        if self.codes is not None:
            return self.codes[rng.integers(0, len(self.codes), size=size)]
        # A block is drawn in proportion to the pairs it holds, then two of its members.
        weights = self.sizes * (self.sizes - 1) / 2.0
        block = rng.choice(len(self.sizes), size=4 * size, p=weights / weights.sum())
        first = self.starts[block] + (rng.random(4 * size) * self.sizes[block]).astype(numpy.int64)
        second = self.starts[block] + (rng.random(4 * size) * self.sizes[block]).astype(numpy.int64)
        a, b = self.records[first], self.records[second]
        keep = a != b
        if group_codes is not None:
            keep &= group_codes[a] != group_codes[b]
        a, b = a[keep][:size], b[keep][:size]
        return pack(numpy.minimum(a, b), numpy.maximum(a, b))


def conjoin(first: Blocks, second: Blocks, n_records: int, group_codes: IntArray | None = None,
            limit: int = MATERIALISE_LIMIT) -> Blocks:
    """The blocks of a conjunction: records sharing a block of `first` and a block of `second`.

    Empty when the two would give more than MAX_CONJUNCTION_KEYS keys in all (two predicates over
    long text, each with hundreds of keys a record): such a rule could not be stored or joined anyway.
    """
    rec_a, block_a = first.by_record()
    rec_b, block_b = second.by_record()
    count_a = numpy.bincount(rec_a, minlength=n_records)
    count_b = numpy.bincount(rec_b, minlength=n_records)
    # Every record gets one key per combination of its blocks, as dedupe's compound predicates do.
    combos = count_a * count_b
    total = int(combos.sum())
    if not total or total > MAX_CONJUNCTION_KEYS:
        return Blocks(_EMPTY, _EMPTY, _EMPTY, 0, _EMPTY)
    record = numpy.repeat(numpy.arange(n_records, dtype=numpy.int64), combos)
    within = numpy.arange(total, dtype=numpy.int64) - numpy.repeat(numpy.cumsum(combos) - combos, combos)
    start_a, start_b = numpy.cumsum(count_a) - count_a, numpy.cumsum(count_b) - count_b
    index_a = start_a[record] + within // count_b[record]
    index_b = start_b[record] + within % count_b[record]
    keys = block_a[index_a] * (int(block_b.max()) + 1) + block_b[index_b]
    return Blocks.from_keys(record, keys, group_codes, limit)


def union_count(blocks: Sequence[Blocks]) -> int:
    """Distinct pairs compared by any of the blocks (a sum of upper bounds when some are not stored)."""
    if any(b.codes is None for b in blocks):
        return sum(b.pairs for b in blocks)
    if not blocks:
        return 0
    return len(numpy.unique(numpy.concatenate([b.codes for b in blocks])))  # type: ignore[misc]


def pair_codes(members: IntArray, starts: IntArray, sizes: IntArray, group_codes: IntArray | None) -> IntArray:
    """The distinct pairs (packed, smaller position first) inside blocks."""
    chunks = [_EMPTY]
    # Blocks of equal size are paired in one vectorised step: their members form a (blocks, size) matrix.
    for size in numpy.unique(sizes).tolist():
        grid = members[starts[sizes == size][:, None] + numpy.arange(size)]
        left, right = numpy.triu_indices(size, 1)
        a, b = grid[:, left].ravel(), grid[:, right].ravel()
        if group_codes is not None:
            cross = group_codes[a] != group_codes[b]
            a, b = a[cross], b[cross]
        chunks.append(pack(numpy.minimum(a, b), numpy.maximum(a, b)))
    return numpy.unique(numpy.concatenate(chunks))


def _take_blocks(values: IntArray, starts: IntArray, sizes: IntArray) -> IntArray:
    if not len(sizes):
        return _EMPTY
    offsets = numpy.repeat(starts - numpy.r_[0, numpy.cumsum(sizes)[:-1]], sizes)
    return values[numpy.arange(int(sizes.sum()), dtype=numpy.int64) + offsets]


def _block_pair_counts(members: IntArray, starts: IntArray, sizes: IntArray, group_codes: IntArray | None) -> IntArray:
    if group_codes is None:
        return sizes * (sizes - 1) // 2
    # Cross-group pairs of a block: (n² - Σ per-group n²) / 2.
    block = numpy.repeat(numpy.arange(len(sizes), dtype=numpy.int64), sizes)
    groups = int(group_codes.max()) + 1 if len(group_codes) else 1
    per_group = numpy.bincount(block * groups + group_codes[members], minlength=len(sizes) * groups)
    squares = numpy.bincount(numpy.arange(len(per_group)) // groups, weights=per_group.astype(float) ** 2,
                             minlength=len(sizes))
    return ((sizes.astype(float) ** 2 - squares) // 2).astype(numpy.int64)

"""Bounded, source-covering samples of records for the learner."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from mastering.engine.records import RecordId

# The learner never sees more records than this. Its memory is dominated by the sample pairs that
# usable predicates cover, which grows with the square of the sample: measured peak RSS for the whole
# learner is ~250 MB at 1,500 records and ~400 MB at 3,000 (dedupe's own prepare_training: 1.3 GB at 1,000).
MAX_TRAINING_RECORDS = 3000
DEFAULT_SAMPLE_SIZE = 3000


def draw_training_sample(
    record_ids_by_group: Mapping[str, Sequence[RecordId]], *, size: int = DEFAULT_SAMPLE_SIZE, seed: int
) -> list[RecordId]:
    """Draw at most `size` record ids, proportional to group sizes, with a floor so every group is present."""
    size = min(size, MAX_TRAINING_RECORDS)
    groups = {name: sorted(set(ids)) for name, ids in sorted(record_ids_by_group.items()) if ids}
    total = sum(len(ids) for ids in groups.values())
    if total <= size:
        return sorted(rid for ids in groups.values() for rid in ids)
    rng = random.Random(seed)
    quota = _quotas({name: len(ids) for name, ids in groups.items()}, size, rng)
    chosen = [rid for name, ids in groups.items() for rid in rng.sample(ids, quota[name])]
    return sorted(chosen)


def _quotas(sizes: Mapping[str, int], size: int, rng: random.Random) -> dict[str, int]:
    names = list(sizes)
    # Small sources would vanish from a purely proportional sample; a quarter of the budget is a floor.
    floor = max(1, size // (4 * len(names)))
    quota = {name: min(sizes[name], floor) for name in names}
    if sum(quota.values()) > size:
        rng.shuffle(names)
        return {name: (1 if i < size else 0) for i, name in enumerate(names)}
    remaining = size - sum(quota.values())
    while remaining > 0:
        spare = {name: sizes[name] - quota[name] for name in names if sizes[name] > quota[name]}
        if not spare:
            break
        spare_total = sum(spare.values())
        shares = {name: remaining * left / spare_total for name, left in spare.items()}
        granted = {name: min(spare[name], int(share)) for name, share in shares.items()}
        # Largest remainders take the seats that integer division left over.
        leftover = remaining - sum(granted.values())
        for name in sorted(spare, key=lambda n: (-(shares[n] - int(shares[n])), n)):
            if leftover <= 0:
                break
            if granted[name] < spare[name]:
                granted[name] += 1
                leftover -= 1
        for name, extra in granted.items():
            quota[name] += extra
        given = sum(granted.values())
        if given == 0:
            break
        remaining -= given
    return quota

"""Plain data shapes that cross the engine boundary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RecordId = int
RawRecord = Mapping[str, object]
PreparedRecord = dict[str, Any]
Records = Mapping[RecordId, RawRecord]
Pair = tuple[RecordId, RecordId]


@dataclass(frozen=True)
class LabeledPair:
    """A curator's answer for one pair of records."""

    left_id: RecordId
    right_id: RecordId
    match: bool

    @property
    def key(self) -> Pair:
        """The pair's ids in canonical (smaller first) order."""
        return ordered(self.left_id, self.right_id)


def ordered(a: RecordId, b: RecordId) -> Pair:
    """Return the two ids smaller first, the form pairs are stored and compared in."""
    return (a, b) if a <= b else (b, a)


class TrainingError(ValueError):
    """The labels or records cannot produce a model (for example, no match labelled yet)."""

"""Block keys of records under learned rules, computing each rule part once per record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import product
from typing import Any

from mastering.engine.records import PreparedRecord, RecordId


def compile_rules(rules: Sequence[Any]) -> tuple[list[Any], list[tuple[int, ...]]]:
    """Split rules into their distinct parts and, per rule, the positions of its parts."""
    parts: list[Any] = []
    index: dict[Any, int] = {}
    layout = []
    for rule in rules:
        positions = []
        for part in rule:
            if part not in index:
                index[part] = len(parts)
                parts.append(part)
            positions.append(index[part])
        layout.append(tuple(positions))
    return parts, layout


def record_keys(
    records: Iterable[tuple[RecordId, PreparedRecord]], parts: Sequence[Any], layout: Sequence[tuple[int, ...]]
) -> Iterator[tuple[int, str, RecordId]]:
    """Yield (rule position, key, record id), record by record."""
    for rid, record in records:
        # Rules share parts (one attribute's metaphone in three conjunctions); evaluate each once.
        part_keys = [part(record) for part in parts]
        for position, members in enumerate(layout):
            if len(members) == 1:
                for key in part_keys[members[0]]:
                    yield position, key, rid
            else:
                # Same key format as dedupe's CompoundPredicate, so keys match StaticDedupe's.
                for combo in product(*(part_keys[m] for m in members)):
                    yield position, ":".join(k.replace(":", "\\:") for k in combo), rid

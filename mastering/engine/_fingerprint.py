"""Block keys of records under learned rules, computing each rule part once per record."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import product
from typing import Any

from dedupe.predicates import ExistsPredicate, SimplePredicate

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
    # A simple predicate's keys depend on its field's value alone, and values repeat (names, towns,
    # dates): each part is evaluated once per distinct value. Index predicates are called as they are.
    memos: list[dict[Any, tuple[tuple[str, ...], tuple[str, ...]]] | None] = [
        {} if isinstance(part, (SimplePredicate, ExistsPredicate)) else None for part in parts]
    for rid, record in records:
        # Rules share parts (one attribute's metaphone in three conjunctions); evaluate each once.
        part_keys = [_part_keys(part, memo, record) for part, memo in zip(parts, memos)]
        for position, members in enumerate(layout):
            if len(members) == 1:
                for key in part_keys[members[0]][0]:
                    yield position, key, rid
            else:
                # Same key format as dedupe's CompoundPredicate, so keys match StaticDedupe's.
                for combo in product(*(part_keys[m][1] for m in members)):
                    yield position, ":".join(combo), rid


def _part_keys(part: Any, memo: dict | None, record: PreparedRecord) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A part's keys for a record, plain and with ':' escaped for compound keys."""
    if memo is None:
        return _with_escaped(part(record))
    value = record[part.field]
    try:
        return memo[value]
    except KeyError:
        found = memo[value] = _with_escaped(part(record))
        return found
    except TypeError:  # an unhashable value
        return _with_escaped(part(record))


def _with_escaped(keys: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    plain = tuple(keys)
    return plain, tuple(k.replace(":", "\\:") for k in plain)

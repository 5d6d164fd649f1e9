"""Block keys of records under learned rules, computing each rule part once per distinct value."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any

from dedupe.predicates import ExistsPredicate, SimplePredicate

from mastering.engine.records import PreparedRecord, RecordId

# A part's keys for one record: plain (a rule of one part) and with ':' escaped (a part of a compound rule).
PartKeys = tuple[tuple[str, ...], tuple[str, ...]]


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


def keys_by_rule(
    records: Sequence[tuple[RecordId, PreparedRecord]], parts: Sequence[Any], layout: Sequence[tuple[int, ...]]
) -> list[tuple[list[str], list[RecordId]]]:
    """Per rule (in `layout` order), its keys and, aligned with them, the record each key belongs to.

    Column by column rather than record by record: each part is evaluated over all records at once (once per
    distinct value), then each rule combines its parts' columns. Rules share parts (one attribute's prefix in
    three conjunctions), which are evaluated once; the per-record generator this replaced spent as much time
    in its own bookkeeping as in the predicates.
    """
    ids = [rid for rid, _ in records]
    values = [record for _, record in records]
    columns = [_part_column(part, values) for part in parts]
    found = []
    for members in layout:
        keys: list[str] = []
        owners: list[RecordId] = []
        if len(members) == 1:
            for rid, (plain, _) in zip(ids, columns[members[0]]):
                for key in plain:
                    keys.append(key)
                    owners.append(rid)
        else:
            # Same key format as dedupe's CompoundPredicate, so keys match StaticDedupe's.
            for rid, *escaped in zip(ids, *([pair[1] for pair in columns[m]] for m in members)):
                for combo in product(*escaped):
                    keys.append(":".join(combo))
                    owners.append(rid)
        found.append((keys, owners))
    return found


def _part_column(part: Any, records: list[PreparedRecord]) -> list[PartKeys]:
    """A part's keys for each record. A simple predicate's keys depend on its field's value alone, and values
    repeat (names, towns, dates): it is evaluated once per distinct value. Index predicates are called as they are."""
    if not isinstance(part, (SimplePredicate, ExistsPredicate)):
        return [_with_escaped(part(record)) for record in records]
    memo: dict[Any, PartKeys] = {}
    field = part.field
    column = []
    for record in records:
        value = record[field]
        try:
            keys = memo[value]
        except KeyError:
            keys = memo[value] = _with_escaped(part(record))
        except TypeError:  # an unhashable value
            keys = _with_escaped(part(record))
        column.append(keys)
    return column


def _with_escaped(keys: Any) -> PartKeys:
    plain = tuple(keys)
    return plain, tuple(k.replace(":", "\\:") for k in plain)

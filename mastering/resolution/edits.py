"""Curator edits applied on top of model clusters, in the order they were made."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

RecordId = int


@dataclass(frozen=True)
class Edit:
    """A stored ClusterEdit, reduced to what clustering needs."""

    kind: str  # merge | split | move | pin | unpin
    entity: str | None  # survivor, target, or pinned entity
    records: frozenset[RecordId]  # merge: every record of both; split: those split out; move: the moved one; pin: the members
    anchor: frozenset[RecordId] = frozenset()  # move: the target entity's members when the edit was made
    reason: str = "edit"
    edit_id: int | None = None


@dataclass
class EditedClusters:
    clusters: list[frozenset[RecordId]]
    forced_ids: dict[int, str]  # cluster index → entity id that must stay on it
    edited_records: dict[RecordId, int]  # record → the edit that placed it
    pinned: set[int]  # cluster indexes that are pinned


def apply_edits(clusters: Sequence[Iterable[RecordId]], edits: Sequence[Edit], live: set[RecordId]) -> EditedClusters:
    """Reshape model clusters so that every active edit holds; later edits win over earlier ones."""
    cluster_of: dict[RecordId, int] = {}
    groups: dict[int, set[RecordId]] = {}
    for index, members in enumerate(clusters):
        groups[index] = set(members)
        for record in members:
            cluster_of[record] = index
    next_index = len(groups)
    forced: dict[int, str] = {}
    edited: dict[RecordId, int] = {}
    pinned_entity_records: dict[str, set[RecordId]] = {}

    def detach(records: set[RecordId]) -> None:
        for record in records:
            index = cluster_of.pop(record, None)
            if index is not None:
                groups[index].discard(record)

    def new_group(records: set[RecordId]) -> int:
        nonlocal next_index
        detach(records)
        index = next_index
        next_index += 1
        groups[index] = set(records)
        for record in records:
            cluster_of[record] = index
        return index

    for edit in edits:
        records = set(edit.records) & live
        if not records and edit.kind != "unpin":
            continue
        if edit.kind == "pin":
            pinned_entity_records[edit.entity] = records
        elif edit.kind == "unpin":
            pinned_entity_records.pop(edit.entity, None)
        elif edit.kind == "merge":
            index = new_group(records | _mates(records, groups, cluster_of, pinned_entity_records))
            if edit.entity:
                forced[index] = edit.entity
        elif edit.kind == "split":
            new_group(records)
        elif edit.kind == "move":
            anchor = set(edit.anchor) & live - records
            target = _group_holding(anchor, groups, cluster_of)
            detach(records)
            if target is None:
                target = new_group(anchor)
            for record in records:
                groups[target].add(record)
                cluster_of[record] = target
            if edit.entity:
                forced[target] = edit.entity
        for record in records:
            edited[record] = edit.edit_id
    # Pins last: the pinned members form exactly one cluster, whatever the model or other edits said.
    pinned_indexes: set[int] = set()
    for entity, records in pinned_entity_records.items():
        if records:
            index = new_group(records)
            forced[index] = entity
            pinned_indexes.add(index)
    result, forced_ids, pinned = [], {}, set()
    for index in sorted(groups, key=lambda i: min(groups[i]) if groups[i] else -1):
        members = groups[index]
        if not members:
            continue
        if index in forced and forced[index] not in forced_ids.values():
            forced_ids[len(result)] = forced[index]
        if index in pinned_indexes:
            pinned.add(len(result))
        result.append(frozenset(members))
    return EditedClusters(result, forced_ids, edited, pinned)


def _group_holding(anchor: set[RecordId], groups: Mapping[int, set[RecordId]], cluster_of: Mapping[RecordId, int]) -> int | None:
    counts: dict[int, int] = {}
    for record in anchor:
        if record in cluster_of:
            counts[cluster_of[record]] = counts.get(cluster_of[record], 0) + 1
    return max(counts, key=lambda i: (counts[i], -i)) if counts else None


def _mates(records: set[RecordId], groups: Mapping[int, set[RecordId]], cluster_of: Mapping[RecordId, int],
           pinned: Mapping[str, set[RecordId]]) -> set[RecordId]:
    """The model's cluster-mates of merged records come along, unless they are pinned elsewhere."""
    held = set().union(*pinned.values()) if pinned else set()
    mates: set[RecordId] = set()
    for record in records:
        index = cluster_of.get(record)
        if index is not None:
            mates |= groups[index]
    return mates - held

"""Persistent entity ids: each new cluster inherits the id of the previous entity it overlaps most."""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

RecordId = int
EntityId = str


@dataclass
class Assignment:
    """Which id each new cluster carries, which old ids retire (and where they redirect), and what kind of change each is."""

    ids: list[EntityId]  # one per cluster, in cluster order
    new: set[int] = field(default_factory=set)  # cluster indexes that got a fresh id
    retired: dict[EntityId, EntityId | None] = field(default_factory=dict)  # old id → survivor (None: its records are gone)
    kinds: dict[int, str] = field(default_factory=dict)  # cluster index → new/unchanged/grown/shrunk/merged/split/changed

    def counts(self) -> dict[str, int]:
        tally = Counter(self.kinds.values())
        return {kind: tally.get(kind, 0) for kind in ("new", "unchanged", "grown", "shrunk", "merged", "split", "changed")} | {
            "retired": len(self.retired)
        }


def assign_ids(
    clusters: Sequence[frozenset[RecordId]],
    previous: Mapping[RecordId, EntityId],
    *,
    seniority: Mapping[EntityId, tuple] | None = None,
    forced: Mapping[int, EntityId] | None = None,
    fresh_id=None,
) -> Assignment:
    """Give every cluster an id.

    Forced ids (pinned entities, merge survivors) are placed first. Then overlaps are taken
    largest first, each old id going to at most one cluster and each cluster taking at most one
    id; ties go to the older entity (by `seniority`, then id) and the cluster with the smallest
    record. So a split keeps the id on the larger part and a merge keeps the id of the entity
    that brought most records (or the older one).
    """
    import uuid

    fresh_id = fresh_id or (lambda: str(uuid.uuid4()))
    seniority = seniority or {}
    forced = dict(forced or {})
    old_members: dict[EntityId, set[RecordId]] = {}
    for record, entity in previous.items():
        old_members.setdefault(entity, set()).add(record)
    ids: list[EntityId | None] = [None] * len(clusters)
    used: set[EntityId] = set()
    for index, entity in sorted(forced.items()):
        if entity not in used:
            ids[index] = entity
            used.add(entity)
    candidates = []
    for index, members in enumerate(clusters):
        if ids[index] is not None:
            continue
        overlap = Counter(previous[r] for r in members if r in previous)
        for entity, count in overlap.items():
            candidates.append((-count, seniority.get(entity, ()), entity, min(members), index))
    for _, _, entity, _, index in sorted(candidates):
        if ids[index] is None and entity not in used:
            ids[index] = entity
            used.add(entity)
    assignment = Assignment(ids=[])
    for index, entity in enumerate(ids):
        if entity is None:
            ids[index] = fresh_id()
            assignment.new.add(index)
    assignment.ids = ids  # type: ignore[assignment]
    cluster_of_record = {r: i for i, members in enumerate(clusters) for r in members}
    for entity, members in old_members.items():
        if entity in used:
            continue
        destinations = Counter(cluster_of_record[r] for r in members if r in cluster_of_record)
        if destinations:
            best = min(destinations, key=lambda i: (-destinations[i], min(clusters[i])))
            assignment.retired[entity] = ids[best]
        else:
            assignment.retired[entity] = None
    absorbed_into = Counter(survivor for survivor in assignment.retired.values() if survivor is not None)
    for index, members in enumerate(clusters):
        if index in assignment.new:
            assignment.kinds[index] = "new"
            continue
        before = old_members.get(ids[index], set())
        gained, lost = members - before, before - members
        if absorbed_into.get(ids[index]):
            kind = "merged"
        elif not gained and not lost:
            kind = "unchanged"
        elif gained and not lost:
            kind = "grown"
        elif lost and any(r in cluster_of_record for r in lost):
            kind = "split"
        elif lost and not gained:
            kind = "shrunk"
        else:
            kind = "changed"
        assignment.kinds[index] = kind
    return assignment

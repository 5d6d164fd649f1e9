"""An entity's past: its timeline of runs and edits, its state after any of them, and the difference to now."""

from dataclasses import dataclass, field

from mastering.models import Entity, Membership, RunChange, SourceRecord


@dataclass
class PastState:
    change: RunChange
    members: set[int]
    golden: dict
    members_in: list[int] = field(default_factory=list)  # now but not then
    members_out: list[int] = field(default_factory=list)  # then but not now
    values_changed: list[dict] = field(default_factory=list)
    since: list[RunChange] = field(default_factory=list)  # the changes in between, oldest first


def timeline(entity: Entity, *, limit: int | None = None) -> list[RunChange]:
    """Every run and edit that touched the entity, newest first, with what says who and why (`attribution`)."""
    changes = RunChange.objects.filter(entity_type=entity.entity_type, entity_id=entity.pk) \
        .select_related("job__started_by", "edit__user", "user").order_by("-id")
    return list(changes[:limit] if limit else changes)


def state_after(entity: Entity, change_id: int) -> PastState:
    """The entity as it was right after a change, found by undoing every later change from today's state."""
    changes = timeline(entity)
    target = next((c for c in changes if c.pk == change_id), None)
    if target is None:
        raise RunChange.DoesNotExist(f"Change {change_id} is not in this entity's history.")
    members = set(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))
    now_members, now_golden = set(members), dict(entity.golden)
    later = [c for c in changes if c.pk > change_id]  # newest first
    for change in later:
        members -= set(change.added)
        members |= set(change.removed)
    if target.golden_after:
        golden = dict(target.golden_after)
    else:  # a change that recorded no values (a pin): the values are those the next change started from
        golden = dict(later[-1].golden_before) if later else dict(now_golden)
    values = [{"attribute": name, "then": golden.get(name), "now": now_golden.get(name)}
              for name in sorted(set(golden) | set(now_golden)) if golden.get(name) != now_golden.get(name)]
    return PastState(target, members, golden, sorted(now_members - members), sorted(members - now_members), values,
                     list(reversed(later)))


def describe_records(record_ids) -> dict[int, str]:
    """Record id → "source:key", for showing members."""
    return {pk: f"{slug}:{key}" for pk, slug, key in
            SourceRecord.objects.filter(pk__in=list(record_ids)).values_list("pk", "source__slug", "key")}

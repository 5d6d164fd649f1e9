"""Curator decisions on entities, applied at once and kept for every later run: cluster edits, overrides, rules."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.rules import ensure_allowed
from lineage.models import Activity
from lineage.services import record_activity
from mastering.models import Attribute, ClusterEdit, Entity, EntityType, Job, Membership, RunChange, ValueOverride
from mastering.services import golden, run_lineage
from mastering.services.edit_listeners import notify_edit_listeners
from mastering.services.golden_rules import change_rule, preview_rule_change, set_threshold
from steward.errors import InvalidInput, ServiceError

# Rules and thresholds moved to golden_rules; pages and the API still find them here.
__all__ = ["change_rule", "preview_rule_change", "set_threshold"]

MAX_REASON = 500
REASON_MISSING = "Say briefly why: the reason is kept with the edit."
REASON_TOO_LONG = f"Keep the reason under {MAX_REASON} characters."


class EditRefused(ServiceError):
    pass


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(REASON_MISSING)
    if len(reason) > MAX_REASON:
        raise InvalidInput(REASON_TOO_LONG)
    return reason


def _members(entity: Entity) -> set[int]:
    return set(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))


def _live(entity: Entity, *, unpinned: bool = True) -> None:
    # Serialize with mastering runs (and other edits) of this entity type; see finish_master.
    EntityType.objects.select_for_update().filter(pk=entity.entity_type_id).first()
    entity.refresh_from_db(fields=["retired_at", "retired_into", "pinned"])
    check_live(entity, unpinned=unpinned)


# The rules an edit must pass, as pure checks on rows already read: the services run them under their lock, and the
# edit preview runs them first, so a preview refuses what the edit would refuse, in the same words.
def check_live(entity: Entity, *, unpinned: bool = True) -> None:
    if entity.retired_at is not None:
        raise EditRefused(f"Entity {entity.pk} was retired; open the entity that took its records.")
    if unpinned and entity.pinned:
        raise EditRefused("This entity is pinned: unpin it before changing its members.")


def check_split(members: set[int], chosen: set[int]) -> None:
    if not chosen or not chosen <= members:
        raise InvalidInput("Choose records that belong to this entity.")
    if chosen == members:
        raise EditRefused("Splitting out every record would leave the entity empty; choose fewer records.")


def check_move(entity: Entity, target: Entity, record: int, members: set[int]) -> None:
    if target.entity_type_id != entity.entity_type_id or target.pk == entity.pk:
        raise InvalidInput("Move the record to a different entity of the same type.")
    if record not in members:
        raise InvalidInput("That record does not belong to this entity.")


def check_merge(survivor: Entity, others: list[Entity]) -> list[Entity]:
    others = [o for o in others if o.pk != survivor.pk]
    if not others:
        raise InvalidInput("Choose at least one other entity to merge.")
    for other in others:
        if other.entity_type_id != survivor.entity_type_id:
            raise InvalidInput("Only entities of the same type can be merged.")
    return others


def _snapshot(entity_ids) -> dict[str, tuple[set[int], dict]]:
    state = {}
    for entity in Entity.objects.filter(pk__in=list(entity_ids)):
        state[str(entity.pk)] = (_members(entity), dict(entity.golden))
    return state


def _changes_after(edit: ClusterEdit, before: dict, entity_type: EntityType, *, learn: bool = True) -> None:
    """Record what the edit changed about each entity, and tell the apps that learn from edits (unless told not to)."""
    after = _snapshot(before.keys())
    rows = []
    for entity_id, (old_members, old_golden) in before.items():
        new_members, new_golden = after.get(entity_id, (set(), {}))
        rows.append(RunChange(entity_type=entity_type, edit=edit, entity_id=entity_id, kind=RunChange.Kind.EDITED,
                              added=sorted(new_members - old_members), removed=sorted(old_members - new_members),
                              golden_before=old_golden, golden_after=new_golden))
    RunChange.objects.bulk_create(rows)
    if learn:
        notify_edit_listeners(edit, {entity_id: members for entity_id, (members, _) in before.items()})


def _move(records: set[int], entity: Entity, edit: ClusterEdit, reason: str = Membership.Reason.EDIT) -> None:
    Membership.objects.filter(entity_type=entity.entity_type, record_id__in=records).update(
        entity=entity, reason=reason, edit=edit, confidence=None)


def _retire_if_empty(entity: Entity, survivor: Entity) -> None:
    if not Membership.objects.filter(entity=entity).exists():
        Entity.objects.filter(pk=entity.pk).update(retired_at=timezone.now(), retired_into=survivor, size=0)
        Entity.objects.filter(retired_into=entity).update(retired_into=survivor)


@transaction.atomic
def split_records(*, entity: Entity, records: list[int], user: AbstractBaseUser, reason: str,
                  learn: bool = True) -> tuple[ClusterEdit, Entity]:
    """Take some records out of an entity into a new one; every later run keeps them apart.

    learn=False: the caller teaches its own labels for this edit (an issue resolution labels with its origin),
    so the edit listeners must not add a second set.
    """
    reason = _reason(reason)
    _live(entity)
    members, chosen = _members(entity), set(records)
    check_split(members, chosen)
    edit = ClusterEdit.objects.create(entity_type=entity.entity_type, kind=ClusterEdit.Kind.SPLIT, entity=entity,
                                      records=sorted(chosen), user=user, reason=reason)
    before = _snapshot([entity.pk])
    new_entity = Entity.objects.create(id=uuid.uuid4(), entity_type=entity.entity_type)
    before[str(new_entity.pk)] = (set(), {})
    _move(chosen, new_entity, edit)
    golden.refresh_entities(entity.entity_type, [entity.pk, new_entity.pk])
    _changes_after(edit, before, entity.entity_type, learn=learn)
    _record(edit, [entity, new_entity])
    return edit, new_entity


@transaction.atomic
def move_record(*, entity: Entity, record: int, target: Entity, user: AbstractBaseUser, reason: str) -> ClusterEdit:
    """Move one record into another entity; later runs keep it there."""
    reason = _reason(reason)
    _live(entity)
    _live(target)
    check_move(entity, target, record, _members(entity))
    anchor = _members(target)
    edit = ClusterEdit.objects.create(entity_type=entity.entity_type, kind=ClusterEdit.Kind.MOVE, entity=target,
                                      records=[record, *sorted(anchor)], other_entities=[str(entity.pk)], user=user, reason=reason)
    before = _snapshot([entity.pk, target.pk])
    _move({record}, target, edit)
    _retire_if_empty(entity, target)
    golden.refresh_entities(entity.entity_type, [entity.pk, target.pk])
    _changes_after(edit, before, entity.entity_type)
    _record(edit, [entity, target])
    return edit


@transaction.atomic
def merge_entities(*, survivor: Entity, others: list[Entity], user: AbstractBaseUser, reason: str,
                   learn: bool = True) -> ClusterEdit:
    """Merge entities into the survivor, which keeps its id; the others' ids redirect to it (learn: see split_records)."""
    reason = _reason(reason)
    _live(survivor)
    others = check_merge(survivor, others)
    for other in others:
        _live(other)
    records = set().union(_members(survivor), *(_members(o) for o in others))
    edit = ClusterEdit.objects.create(entity_type=survivor.entity_type, kind=ClusterEdit.Kind.MERGE, entity=survivor,
                                      records=sorted(records), other_entities=[str(o.pk) for o in others], user=user, reason=reason)
    before = _snapshot([survivor.pk, *[o.pk for o in others]])
    _move(records - _members(survivor), survivor, edit)
    for other in others:
        _retire_if_empty(other, survivor)
    golden.refresh_entities(survivor.entity_type, [survivor.pk, *[o.pk for o in others]])
    _changes_after(edit, before, survivor.entity_type, learn=learn)
    _record(edit, [survivor, *others])
    return edit


@transaction.atomic
def pin_entity(*, entity: Entity, user: AbstractBaseUser, reason: str, pinned: bool = True) -> ClusterEdit:
    """Fix (or release) an entity's members: while pinned, runs neither add nor remove records."""
    reason = _reason(reason)
    _live(entity, unpinned=False)
    if entity.pinned == pinned:
        raise EditRefused(f"The entity is already {'pinned' if pinned else 'not pinned'}.")
    kind = ClusterEdit.Kind.PIN if pinned else ClusterEdit.Kind.UNPIN
    members = sorted(_members(entity))
    edit = ClusterEdit.objects.create(entity_type=entity.entity_type, kind=kind, entity=entity, records=members if pinned else [],
                                      user=user, reason=reason)
    Entity.objects.filter(pk=entity.pk).update(pinned=pinned)
    Membership.objects.filter(entity=entity).update(reason=Membership.Reason.PINNED if pinned else Membership.Reason.EDIT,
                                                    edit=edit)
    RunChange.objects.create(entity_type=entity.entity_type, edit=edit, entity_id=entity.pk, kind=RunChange.Kind.EDITED,
                             golden_before=entity.golden, golden_after=entity.golden)
    _record(edit, [entity])
    entity.refresh_from_db()
    return edit


def _record(edit: ClusterEdit, entities: list[Entity]) -> None:
    record_activity(kind=Activity.Kind.CLUSTER_EDIT, actor=edit.user, summary=f"{edit.get_kind_display()}: {edit.reason}"[:300],
                    inputs=entities, outputs=[edit], parameters={"kind": edit.kind, "records": edit.records[:50]})


@transaction.atomic
def override_value(*, entity: Entity, attribute: Attribute, value: str, user: AbstractBaseUser, reason: str) -> ValueOverride:
    """Set a golden value by hand; it survives every run until removed."""
    reason = _reason(reason)
    _live(entity, unpinned=False)
    if attribute.entity_type_id != entity.entity_type_id:
        raise InvalidInput("That attribute belongs to another entity type.")
    now = timezone.now()
    ValueOverride.objects.filter(entity=entity, attribute=attribute, removed_at__isnull=True).update(removed_at=now, removed_by=user)
    override = ValueOverride.objects.create(entity=entity, attribute=attribute, value=value, reason=reason, user=user)
    _refresh_values(entity, user=user, reason=reason, summary=f"Override {attribute.name}: {reason}", outputs=[override])
    return override


@transaction.atomic
def remove_override(*, override: ValueOverride, user: AbstractBaseUser, reason: str = "") -> ValueOverride:
    """Drop an override; the attribute's survivorship rule decides the value again."""
    ensure_allowed(user, "mastering.remove_override", override,
                   message="Only the curator who set an override, or a steward, can remove it.")
    removed_now = ValueOverride.objects.filter(pk=override.pk, removed_at__isnull=True).update(removed_at=timezone.now(), removed_by=user)
    if not removed_now:  # checked in the UPDATE itself, so two removals at once cannot both pass
        raise EditRefused("That override was already removed.")
    override.refresh_from_db()
    removed = f"Removed the override of {override.attribute.name}"
    reason = f"{removed}: {reason.strip()}" if reason.strip() else removed
    _refresh_values(override.entity, user=user, reason=reason[:MAX_REASON], summary=reason, outputs=[override])
    return override


def _refresh_values(entity: Entity, *, user, reason: str, summary: str, outputs) -> None:
    before = dict(entity.golden)
    (refreshed,) = golden.refresh_entities(entity.entity_type, [entity.pk])
    # Neither a run nor a cluster edit: the change itself says who and why.
    RunChange.objects.create(entity_type=entity.entity_type, entity_id=entity.pk, kind=RunChange.Kind.VALUES,
                             user=user, reason=reason, golden_before=before, golden_after=refreshed.golden)
    record_activity(kind=Activity.Kind.OVERRIDE, actor=user, summary=summary[:300], inputs=[entity], outputs=outputs)
    entity.golden, entity.provenance = refreshed.golden, refreshed.provenance


def run_golden_job(job: Job, progress) -> dict:
    """Job runner: recompute every live entity's golden record and record what changed."""
    entity_type = job.entity_type
    progress.begin("recomputing golden records", 0.1)
    changed, changes = [], []
    now = timezone.now()
    with transaction.atomic():
        # Under the entity type's lock: an override or edit made meanwhile is in what is computed here.
        EntityType.objects.select_for_update().filter(pk=entity_type.pk).first()
        ids = [str(pk) for pk in Entity.objects.live().filter(entity_type=entity_type).values_list("pk", flat=True)]
        computed = golden.compute_golden(entity_type, ids)
        for entity in Entity.objects.filter(pk__in=ids):
            values, provenance = computed[str(entity.pk)]
            if values != entity.golden or provenance != entity.provenance:
                if values != entity.golden:
                    changes.append(RunChange(entity_type=entity_type, job=job, entity_id=entity.pk, kind=RunChange.Kind.VALUES,
                                             golden_before=entity.golden, golden_after=values))
                entity.golden, entity.provenance, entity.changed_job, entity.updated_at = values, provenance, job, now
                changed.append(entity)
        Entity.objects.bulk_update(changed, ["golden", "provenance", "changed_job", "updated_at"], batch_size=2000)
        RunChange.objects.bulk_create(changes, batch_size=2000)
        counts = {"entities": len(ids), "values_changed": len(changes)}
        record_activity(kind=Activity.Kind.MASTER, actor=job, inputs=[entity_type], outputs=[job],
                        summary=f"{entity_type.name}: golden records recomputed, {len(changes)} of {len(ids)} changed",
                        parameters={"job": job.pk, **counts}, run=run_lineage.run_facts(job, counts=counts))
    return counts

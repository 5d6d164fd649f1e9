"""What an entity edit would do, computed read-only before it is confirmed: each affected entity's golden record and
members after the edit, by the same survivorship code the edit services run (services.golden.golden_for).

Nothing here writes: the preview is shown from a POST that is not yet the edit, and a confirm posts the edit itself.
"""

from dataclasses import dataclass, field

from mastering.edit_inputs import EditInput, MergeInput, MoveInput, OverrideInput, SplitInput
from mastering.mapping import projection_for
from mastering.models import Entity, Membership
from mastering.services import golden
from mastering.services.entities import check_live, check_merge, check_move, check_split

PREVIEWED = {"merge": MergeInput, "split": SplitInput, "move": MoveInput, "override": OverrideInput}


@dataclass(frozen=True)
class GoldenChange:
    label: str
    before: str | None
    after: str | None
    origin: str  # where the value after comes from, in words

    @property
    def changed(self) -> bool:
        return (self.before or "") != (self.after or "")


@dataclass(frozen=True)
class MemberAfter:
    ref: str  # source:key
    change: str  # "stays", "joins" or "leaves"


@dataclass
class EntityAfter:
    title: str
    entity: Entity | None  # None: an entity the edit creates
    golden: list[GoldenChange] = field(default_factory=list)
    members: list[MemberAfter] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(1 for m in self.members if m.change != "leaves")


@dataclass
class EditPreview:
    action: str
    summary: str
    entities: list[EntityAfter]
    retired: list[Entity] = field(default_factory=list)  # entities a merge empties: their ids will lead to the survivor


def _members(entity: Entity) -> set[int]:
    return set(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))


def preview_edit(payload: EditInput, *, user) -> EditPreview:
    """The entities an edit changes, as they would be after it. `payload` is a valid input of a previewed action.

    Raises the ServiceError the edit itself would raise for an edit its rules refuse.
    """
    entity = payload.entity
    data = payload.validated_data
    entity_type = entity.entity_type
    rules = golden.rules_of(entity_type)
    own = _members(entity)
    plans: list[tuple[str, Entity | None, set[int], set[int], dict | None]] = []  # title, entity, before, after, overrides
    retired: list[Entity] = []
    overrides = golden.live_overrides(entity_type, entity_ids=[entity.pk])
    check_live(entity, unpinned=not isinstance(payload, OverrideInput))
    if isinstance(payload, MergeInput):
        others = check_merge(entity, data["others"])
        for other in others:
            check_live(other)
        joined = set().union(*(_members(o) for o in others)) if others else set()
        plans.append(("This entity after the merge", entity, own, own | joined, overrides.get(str(entity.pk))))
        retired = others
        summary = f"Merge {len(others)} entit{'y' if len(others) == 1 else 'ies'} ({len(joined)} record{'s' if len(joined) != 1 else ''}) into this one."
    elif isinstance(payload, SplitInput):
        leaving = set(data["records"])
        check_split(own, leaving)
        plans.append(("This entity after the split", entity, own, own - leaving, overrides.get(str(entity.pk))))
        plans.append(("The new entity", None, set(), leaving, None))
        summary = f"Split {len(leaving)} record{'s' if len(leaving) != 1 else ''} out into a new entity."
    elif isinstance(payload, MoveInput):
        target, record = data["target"], data["record"]
        check_live(target)
        check_move(entity, target, record, own)
        target_members = _members(target)
        target_overrides = golden.live_overrides(entity_type, entity_ids=[target.pk])
        plans.append(("This entity after the move", entity, own, own - {record}, overrides.get(str(entity.pk))))
        plans.append(("The entity it moves to", target, target_members, target_members | {record}, target_overrides.get(str(target.pk))))
        summary = "Move one record to another entity."
    elif isinstance(payload, OverrideInput):
        attribute = data["attribute"]
        changed = {**overrides.get(str(entity.pk), {}), attribute.name: {
            "value": data["value"], "id": None, "by": getattr(user, "username", None), "reason": data["reason"]}}
        plans.append(("This entity after the override", entity, own, own, changed))
        summary = f"Set {attribute.label} to “{data['value']}” whatever the rule chooses."
    else:
        raise ValueError(f"No preview for {type(payload).__name__}")
    projection = projection_for(entity_type)
    facts = golden.record_facts(projection, record_ids=set().union(*(b | a for _, _, b, a, _ in plans)))
    labels = {a.name: a.label for a in projection.attributes}
    entities = []
    for title, target_entity, before, after, target_overrides in plans:
        values, provenance = golden.golden_for(rules, after, facts, target_overrides)
        before_values = target_entity.golden if target_entity is not None else {}
        view = EntityAfter(title, target_entity)
        for name in rules:
            view.golden.append(GoldenChange(labels.get(name, name), before_values.get(name), values.get(name),
                                            _origin_words(provenance.get(name, {}))))
        for record in sorted(before | after, key=lambda r: (facts.get(r, {}).get("source", ""), facts.get(r, {}).get("key", ""))):
            ref = f"{facts[record]['source']}:{facts[record]['key']}" if record in facts else f"record {record}"
            view.members.append(MemberAfter(ref, "stays" if record in before and record in after else "joins" if record in after else "leaves"))
        entities.append(view)
    return EditPreview(payload.__class__.__name__.removesuffix("Input").lower(), summary, entities, retired)


def _origin_words(origin: dict) -> str:
    if origin.get("rule") == "override":
        return f"override by {origin.get('by') or 'you'}"
    if origin.get("source"):
        return f"from {origin['source']}:{origin['key']}"
    return "no member has a value"

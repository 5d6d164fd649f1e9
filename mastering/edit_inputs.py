"""One input per entity edit, shared by the entity page and the API so both refuse the same input with the same words.

Each input validates its fields, looks up the records and entities it names (one query for all of them), and
`apply` calls exactly one service.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mastering import selectors
from mastering.models import Attribute, Entity, ValueOverride
from mastering.services import entities as edits
from steward.api.serializers import StrictSerializer

MAX_VALUE = 10_000


@dataclass(frozen=True)
class EditOutcome:
    """What an edit did: the entity to show next, a line saying so, and what it created."""

    entity: Entity
    message: str
    split_into: Entity | None = None
    override: ValueOverride | None = None


class ReasonField(serializers.CharField):
    """Why the edit was made: required, and as short as the edit services keep it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "Why: kept with the edit and shown in the entity's history.")
        super().__init__(max_length=edits.MAX_REASON, error_messages={
            "required": edits.REASON_MISSING, "blank": edits.REASON_MISSING, "max_length": edits.REASON_TOO_LONG}, **kwargs)


RECORD_REF_SCHEMA = {"type": "object", "required": ["source", "key"],
                     "properties": {"source": {"type": "string"}, "key": {"type": "string"}}}


@extend_schema_field(RECORD_REF_SCHEMA)
class RecordRefField(serializers.Field):
    """A record by source and key: {"source": ..., "key": ...} in JSON, "source:key" in a form."""

    default_error_messages = {"invalid": 'Name a record as {"source": "...", "key": "..."}.'}

    def to_internal_value(self, data) -> tuple[str, str]:
        if isinstance(data, str) and ":" in data:
            source, key = data.split(":", 1)  # a source slug holds no colon; a key may
        elif isinstance(data, Mapping) and set(data) == {"source", "key"}:
            source, key = data["source"], data["key"]
        else:
            self.fail("invalid")
        if not isinstance(source, str) or not isinstance(key, str) or not source or not key:
            self.fail("invalid")
        return source, key

    def to_representation(self, value) -> dict:
        return {"source": value[0], "key": value[1]}


class EditInput(StrictSerializer):
    """The reason every edit needs; the entity edited comes in the context (`entity`)."""

    reason = ReasonField()

    @classmethod
    def from_form(cls, post: QueryDict, *, entity: Entity) -> "EditInput":
        """The input for a posted HTML form: only the fields it knows, lists where it takes a list."""
        fields = cls().fields
        data = {name: post.getlist(name) if isinstance(field, serializers.ListField) else post[name]
                for name, field in fields.items() if name in post}
        return cls(data=data, context={"entity": entity})

    @property
    def entity(self) -> Entity:
        return self.context["entity"]

    def records_named(self, refs: list[tuple[str, str]]) -> list[int]:
        """Record ids for the references, among the sources mapped into the entity type; refuses any it cannot find."""
        found = selectors.record_ids_by_ref(entity_type=self.entity.entity_type, refs=refs)
        missing = [f"{source}:{key}" for source, key in refs if (source, key) not in found]
        if missing:
            raise serializers.ValidationError(f"No record {', '.join(missing)}.")
        return [found[ref] for ref in refs]

    def entities_named(self, ids: list) -> list[Entity]:
        """The entities of the edited entity's type with these ids, in order; refuses any it cannot find."""
        found = {e.pk: e for e in Entity.objects.select_related("entity_type").filter(entity_type=self.entity.entity_type_id, pk__in=ids)}
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(f"No {self.entity.entity_type.name} entity {', '.join(missing)}.")
        return [found[pk] for pk in ids]

    def apply(self, *, user) -> EditOutcome:
        raise NotImplementedError


class PinInput(EditInput):
    def apply(self, *, user) -> EditOutcome:
        edits.pin_entity(entity=self.entity, user=user, reason=self.validated_data["reason"], pinned=True)
        return EditOutcome(self.entity, "Pinned: runs will neither add nor remove records.")


class UnpinInput(EditInput):
    def apply(self, *, user) -> EditOutcome:
        edits.pin_entity(entity=self.entity, user=user, reason=self.validated_data["reason"], pinned=False)
        return EditOutcome(self.entity, "Unpinned.")


class SplitInput(EditInput):
    records = serializers.ListField(child=RecordRefField(), min_length=1, help_text="The records to split out.")

    def validate_records(self, refs: list[tuple[str, str]]) -> list[int]:
        return self.records_named(refs)

    def apply(self, *, user) -> EditOutcome:
        records = self.validated_data["records"]
        _, created = edits.split_records(entity=self.entity, records=records, user=user, reason=self.validated_data["reason"])
        return EditOutcome(self.entity, f"Split {len(records)} record{'s' if len(records) != 1 else ''} into a new entity.",
                           split_into=created)


class MoveInput(EditInput):
    record = RecordRefField(help_text="The record to move.")
    target = serializers.UUIDField(help_text="The entity it moves to.")

    def validate_record(self, ref: tuple[str, str]) -> int:
        return self.records_named([ref])[0]

    def validate_target(self, target) -> Entity:
        return self.entities_named([target])[0]

    def apply(self, *, user) -> EditOutcome:
        target = self.validated_data["target"]
        edits.move_record(entity=self.entity, record=self.validated_data["record"], target=target, user=user,
                          reason=self.validated_data["reason"])
        return EditOutcome(target, "Record moved.")


class MergeInput(EditInput):
    others = serializers.ListField(child=serializers.UUIDField(), min_length=1, help_text="Entities merged into this one.")

    def validate_others(self, ids: list) -> list[Entity]:
        return self.entities_named(list(dict.fromkeys(ids)))

    def apply(self, *, user) -> EditOutcome:
        others = self.validated_data["others"]
        edits.merge_entities(survivor=self.entity, others=others, user=user, reason=self.validated_data["reason"])
        led_here = ", ".join(str(o.pk)[:8] for o in others)
        return EditOutcome(self.entity, f"Merged; {led_here} now lead{'s' if len(others) == 1 else ''} here.")


class OverrideInput(EditInput):
    attribute = serializers.CharField(help_text="The attribute whose golden value is set.")
    value = serializers.CharField(allow_blank=True, max_length=MAX_VALUE)

    def validate_attribute(self, name: str) -> Attribute:
        attribute = Attribute.objects.filter(entity_type=self.entity.entity_type_id, name=name).first()
        if attribute is None:
            raise serializers.ValidationError(f"{self.entity.entity_type.name} has no attribute {name!r}.")
        return attribute

    def apply(self, *, user) -> EditOutcome:
        data = self.validated_data
        override = edits.override_value(entity=self.entity, attribute=data["attribute"], value=data["value"], user=user,
                                        reason=data["reason"])
        return EditOutcome(self.entity, f"{data['attribute'].name} overridden.", override=override)


class RemoveOverrideInput(EditInput):
    override = serializers.IntegerField(help_text="The override to remove.")
    reason = ReasonField(required=False, allow_blank=True)  # optional: removing hands the value back to the rule

    def validate_override(self, override_id: int) -> ValueOverride:
        override = ValueOverride.objects.select_related("entity__entity_type", "attribute") \
            .filter(pk=override_id, entity=self.entity).first()
        if override is None:
            raise serializers.ValidationError(f"This entity has no override {override_id}.")
        return override

    def apply(self, *, user) -> EditOutcome:
        edits.remove_override(override=self.validated_data["override"], user=user, reason=self.validated_data.get("reason", ""))
        return EditOutcome(self.entity, "Override removed; the rule decides again.")


# The page's `action` (and the API's edit path) → its input.
EDIT_INPUTS: dict[str, type[EditInput]] = {
    "split": SplitInput, "move": MoveInput, "merge": MergeInput, "pin": PinInput, "unpin": UnpinInput,
    "override": OverrideInput, "remove_override": RemoveOverrideInput,
}

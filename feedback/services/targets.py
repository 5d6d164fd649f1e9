"""Turn what a reporter names (entity id, attribute, source and key, a second record) into an issue's target."""

import uuid

from mastering import selectors as mastering_selectors
from mastering.models import Attribute, Entity, EntityType, Membership, Source, SourceRecord
from steward.errors import InvalidInput

from feedback.models import DataIssue


def _entity(entity_id, entity_type: EntityType | None) -> Entity:
    try:
        entity = Entity.objects.select_related("entity_type").get(pk=uuid.UUID(str(entity_id)))
    except (ValueError, Entity.DoesNotExist):
        raise InvalidInput(f"No entity with id {entity_id!r}.") from None
    if entity_type is not None and entity.entity_type_id != entity_type.pk:
        raise InvalidInput(f"Entity {entity_id} is a {entity.entity_type.name}, not a {entity_type.name}.")
    try:  # a merged-away id follows its redirect to the entity that took its records
        live, _ = mastering_selectors.resolve_entity(entity_type=entity.entity_type, entity_id=entity.pk)
    except Entity.DoesNotExist as exc:
        raise InvalidInput(str(exc)) from None
    return live


def _record(source_slug: str, key) -> SourceRecord:
    source = Source.objects.filter(slug=source_slug).first()
    if source is None:
        raise InvalidInput(f"No source {source_slug!r}.")
    record = SourceRecord.objects.select_related("source").filter(source=source, key=str(key)).first()
    if record is None:
        raise InvalidInput(f"No record with key {key!r} in source {source.name}.")
    return record


def _entity_type_of(records: list[SourceRecord], entity_type: EntityType | None) -> EntityType | None:
    """The one entity type all the records are mastered as (or mapped to), checked against the one named."""
    mapped = [set(EntityType.objects.filter(attributes__mappings__source_id=r.source_id).values_list("pk", flat=True))
              for r in records]
    common = set.intersection(*mapped) if mapped else set()
    if entity_type is not None:
        if entity_type.pk not in common:
            names = " and ".join(str(r) for r in records)
            raise InvalidInput(f"{names} {'is' if len(records) == 1 else 'are'} not mapped to {entity_type.name}.")
        return entity_type
    if len(records) > 1 and not common:
        raise InvalidInput(f"{records[0]} and {records[1]} belong to no common entity type.")
    return EntityType.objects.filter(pk__in=common).order_by("pk").first()


def resolve_target(*, entity_type: str = "", entity: str = "", attribute: str = "", source: str = "", key: str = "",
                   other_source: str = "", other_key: str = "") -> dict:
    """DataIssue fields for the named target; a name that matches nothing is an InvalidInput naming it."""
    chosen_type = None
    if entity_type:
        chosen_type = EntityType.objects.filter(slug=entity_type).first()
        if chosen_type is None:
            raise InvalidInput(f"No entity type {entity_type!r}.")
    if entity and (source or key):
        raise InvalidInput("Name either an entity or a source record, not both.")
    if attribute and not entity:
        raise InvalidInput("An attribute names one golden value of an entity: give the entity id too.")
    if (other_source or other_key) and not (source and key and other_source and other_key):
        raise InvalidInput("A pair names two records: source and key of each.")
    if key and not source:
        raise InvalidInput("A record key needs its source.")
    if entity:
        found = _entity(entity, chosen_type)
        fields = {"target": DataIssue.Target.ENTITY, "entity": found, "entity_type": found.entity_type,
                  "target_label": f"{found.entity_type.name} {found}"}
        if attribute:
            attr = Attribute.objects.filter(entity_type=found.entity_type, name=attribute).first()
            if attr is None:
                raise InvalidInput(f"{found.entity_type.name} has no attribute {attribute!r}.")
            value = found.golden.get(attr.name)
            fields.update(target=DataIssue.Target.VALUE, attribute=attr, value_when_filed="" if value is None else str(value),
                          target_label=f"{attr.name} of {found.entity_type.name} {found}")
        return fields
    if source and key:
        record = _record(source, key)
        records = [record] + ([_record(other_source, other_key)] if other_source else [])
        if len(records) == 2 and records[0].pk == records[1].pk:
            raise InvalidInput("A pair needs two different records.")
        found_type = _entity_type_of(records, chosen_type)
        membership = Membership.objects.select_related("entity").filter(record=record, entity_type=found_type).first()
        fields = {"target": DataIssue.Target.RECORD, "record": record, "source": record.source, "entity_type": found_type,
                  "entity": membership.entity if membership else None, "target_label": f"record {record}"}
        if len(records) == 2:
            fields.update(target=DataIssue.Target.PAIR, other_record=records[1],
                          target_label=f"records {records[0]} and {records[1]}")
        return fields
    if source:
        found_source = Source.objects.filter(slug=source).first()
        if found_source is None:
            raise InvalidInput(f"No source {source!r}.")
        return {"target": DataIssue.Target.SOURCE, "source": found_source, "entity_type": chosen_type,
                "target_label": f"source {found_source.name}"}
    raise InvalidInput("Say what the issue is about: an entity id (and attribute), a source and key (and a second "
                       "record for a pair), or a source.")

"""Golden records: survivorship over an entity's member records, for runs, edits, overrides and rule changes."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import FloatField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from mastering.mapping import Projection, projection_for
from mastering.models import Entity, EntityType, Membership, Source, SourceRecord, ValueOverride
from mastering.resolution.survivorship import Candidate, golden_record
from steward.db import among


def record_facts(projection: Projection, *, record_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Live mapped records' attribute values and what survivorship looks at (source priority, recency, version)."""
    sources = {s.pk: s for s in Source.objects.filter(pk__in=projection.source_ids)}
    # Unordered: the records' default order joins their sources and sorted each batch of 20,000 on disk.
    records = SourceRecord.objects.filter(source_id__in=projection.source_ids, retired=False).order_by()
    if record_ids is not None:
        records = records.filter(among(SourceRecord, "id", record_ids))
    facts = {}
    if connection.vendor == "postgresql":
        # Seconds since the epoch from the server (the same float as datetime.timestamp()), not datetimes to parse.
        records = records.annotate(created_s=_EPOCH_OF_CREATED, updated_s=_EPOCH_OF_UPDATED)
        times = ("created_s", "updated_s")
    else:
        times = ("created_at", "updated_at")
    rows = records.values_list("pk", "source_id", "key", "version", *times, "data")
    for pk, source_id, key, version, created, updated, data in rows.iterator(chunk_size=20_000):
        source = sources[source_id]
        if type(created) is not float:
            created, updated = created.timestamp(), updated.timestamp()
        facts[pk] = {"source_id": source_id, "source": source.slug, "priority": source.priority, "key": key,
                     "version": version, "created": created, "updated": updated,
                     "values": projection.project(source_id, data)}
    return facts


_EPOCH_OF_CREATED = RawSQL('EXTRACT(EPOCH FROM "mastering_sourcerecord"."created_at")::float8', [], output_field=FloatField())
_EPOCH_OF_UPDATED = RawSQL('EXTRACT(EPOCH FROM "mastering_sourcerecord"."updated_at")::float8', [], output_field=FloatField())


def live_overrides(entity_type: EntityType, *, entity_ids: Iterable | None = None) -> dict[str, dict[str, dict]]:
    """Entity id → attribute → the curator's override."""
    overrides: dict[str, dict[str, dict]] = defaultdict(dict)
    rows = ValueOverride.objects.filter(entity__entity_type=entity_type, removed_at__isnull=True).select_related("attribute", "user")
    if entity_ids is not None:
        rows = rows.filter(entity_id__in=list(entity_ids))
    for override in rows:
        overrides[str(override.entity_id)][override.attribute.name] = {
            "value": override.value, "id": override.pk, "by": override.user.username if override.user else None,
            "reason": override.reason}
    return overrides


def golden_for(rules: dict[str, str], members: Iterable[int], facts: dict[int, dict], overrides: dict | None) -> tuple[dict, dict]:
    """(golden values, provenance) of one entity from its members' facts."""
    members = sorted(m for m in members if m in facts)
    if len(members) == 1 and not overrides:
        return _single_member_golden(rules, facts[members[0]], members[0])
    rows = [(r, facts[r]) for r in members]
    # Only members with a value: survivorship looks at no other (`choose` leaves the empty ones out).
    candidates = {
        name: [Candidate(record=r, value=value, version=fact["version"], source=fact["source"], key=fact["key"],
                         priority=fact["priority"], updated_at=fact["updated"], created_at=fact["created"])
               for r, fact in rows if (value := fact["values"].get(name)) not in (None, "")]
        for name in rules
    }
    return golden_record(rules, candidates, overrides)


def _single_member_golden(rules: dict[str, str], fact: dict, record: int) -> tuple[dict, dict]:
    """What every rule chooses from one member (its value, or nothing when empty), without building candidates:
    a run's singletons are a third of its entities and most of golden records' cost."""
    golden, provenance = {}, {}
    values = fact["values"]
    for attribute, rule in rules.items():
        value = values.get(attribute)
        if value in (None, ""):
            golden[attribute], provenance[attribute] = None, {"rule": rule, "record": None}
        else:
            golden[attribute] = value
            provenance[attribute] = {"rule": rule, "record": record, "version": fact["version"], "source": fact["source"],
                                     "key": fact["key"]}
    return golden, provenance


def rules_of(entity_type: EntityType, *, changed: dict[str, str] | None = None) -> dict[str, str]:
    rules = {a.name: a.survivorship for a in entity_type.attributes.all()}
    return {**rules, **(changed or {})}


def compute_golden(entity_type: EntityType, entity_ids: Iterable, *, rules: dict[str, str] | None = None,
                   projection: Projection | None = None) -> dict[str, tuple[dict, dict]]:
    """Golden values and provenance of the given entities from their current members."""
    entity_ids = [str(e) for e in entity_ids]
    members: dict[str, list[int]] = defaultdict(list)
    for entity_id, record_id in Membership.objects.filter(entity_id__in=entity_ids).values_list("entity_id", "record_id"):
        members[str(entity_id)].append(record_id)
    projection = projection or projection_for(entity_type)
    facts = record_facts(projection, record_ids={r for ids in members.values() for r in ids})
    overrides = live_overrides(entity_type, entity_ids=entity_ids)
    rules = rules or rules_of(entity_type)
    return {entity_id: golden_for(rules, members.get(entity_id, []), facts, overrides.get(entity_id)) for entity_id in entity_ids}


def refresh_entities(entity_type: EntityType, entity_ids: Iterable, *, job=None, projection: Projection | None = None) -> list[Entity]:
    """Recompute size, confidence, golden record and provenance of entities after their members changed.

    A caller holding the entity type's projection (streaming, per request) passes it: rules come from it too.
    """
    entity_ids = [str(e) for e in entity_ids]
    rules = {a.name: a.survivorship for a in projection.attributes} if projection is not None else None
    computed = compute_golden(entity_type, entity_ids, rules=rules, projection=projection)
    entities = list(Entity.objects.filter(pk__in=entity_ids))
    stats = {str(e): (n, low) for e, n, low in _membership_stats(entity_ids)}
    now = timezone.now()
    for entity in entities:
        entity.golden, entity.provenance = computed[str(entity.pk)]
        entity.updated_at = now
        entity.size, entity.confidence = stats.get(str(entity.pk), (0, None))
        if job is not None:
            entity.changed_job = job
    Entity.objects.bulk_update(entities, ["golden", "provenance", "size", "confidence", "changed_job", "updated_at"])
    return entities


def _membership_stats(entity_ids: list[str]):
    from django.db.models import Count, Min

    rows = Membership.objects.filter(entity_id__in=entity_ids).values("entity_id").annotate(n=Count("id"), low=Min("confidence"))
    return [(row["entity_id"], row["n"], row["low"]) for row in rows]

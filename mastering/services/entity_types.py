"""Entity types, their attributes, and mappings from source fields."""

import random
from collections import defaultdict
from collections.abc import Iterable
from difflib import SequenceMatcher

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from accounts.rules import ensure_allowed
from lineage.models import Activity
from lineage.services import record_activity
from mastering.mapping import TRANSFORMS, apply_transforms, normalize_name, projection_for
from mastering.models import Attribute, AttributeMapping, EntityType, Job, Source, SourceField, SourceRecord
from mastering.services.golden_rules import (
    mark_configuration_changed,
    check_rule,
    check_threshold,
    ensure_may_change_golden_rules,
    has_entities,
    recluster,
    recompute_golden_records,
    record_rule_change,
    record_threshold_change,
)
from mastering.services.jobs import JobAlreadyRunning
from steward.errors import InvalidInput

SYNONYMS = [
    {"given_name", "first_name", "firstname", "forename", "given", "fname", "first"},
    {"surname", "last_name", "lastname", "family_name", "lname", "last"},
    {"date_of_birth", "dob", "birth_date", "birthdate", "born"},
    {"postcode", "zip", "zipcode", "zip_code", "postal_code", "post_code"},
    {"suburb", "city", "town", "locality"},
    {"soc_sec_id", "ssn", "social_security_number", "national_id"},
    {"street", "address", "address_1", "street_address", "address_line_1", "addr"},
    {"phone", "telephone", "tel", "mobile", "phone_number"},
    {"email", "e_mail", "email_address", "mail"},
    {"title", "name", "label"},
    {"authors", "author", "creators"},
    {"venue", "journal", "conference", "booktitle"},
    {"year", "pub_year", "publication_year"},
]
PROPOSAL_THRESHOLD = 0.55
ATTRIBUTE_FIELDS = ("name", "comparator", "has_missing", "survivorship")
SETTINGS = {"name", "slug", "description", "match_threshold", "retrain_every", "overlap", "blind", "one_per_source",
            "training_sample_size", "learning_seed", "random_pair_share"}


def _check_transforms(transforms: list[str]) -> list[str]:
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        raise InvalidInput(f"Unknown transform{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; use {', '.join(TRANSFORMS)}.")
    return list(transforms)


def _check_names(name: str, slug: str, *, other_than: EntityType | None = None) -> None:
    taken = EntityType.objects.filter(Q(slug=slug) | Q(name=name))
    if other_than is not None:
        taken = taken.exclude(pk=other_than.pk)
    if taken.exists():
        raise InvalidInput(f"An entity type named {name!r} (slug {slug!r}) already exists.")


def _check_attributes(attributes: list[dict]) -> None:
    if not attributes:
        raise InvalidInput("An entity type needs at least one attribute.")
    names = [a["name"] for a in attributes]
    if len(set(names)) != len(names):
        raise InvalidInput("Attribute names must be unique.")
    for attribute in attributes:
        check_rule(attribute.get("survivorship", Attribute.Rule.MOST_FREQUENT))


@transaction.atomic
def create_entity_type(
    *, name: str, attributes: list[dict], actor: AbstractBaseUser | None, slug: str = "", mappings: list[dict] = (),
    **options,
) -> EntityType:
    """Create an entity type with its attributes and, optionally, mappings ({source, field, attribute, transforms})."""
    slug = slug or slugify(name)[:50]
    _check_names(name, slug)
    _check_attributes(attributes)
    check_threshold(options.get("match_threshold"))
    entity_type = EntityType.objects.create(name=name, slug=slug, **options)
    Attribute.objects.bulk_create(
        [Attribute(entity_type=entity_type, position=i, **{k: v for k, v in a.items() if k in ATTRIBUTE_FIELDS})
         for i, a in enumerate(attributes)]
    )
    by_source: dict[str, list[dict]] = {}
    for mapping in mappings:
        by_source.setdefault(mapping["source"], []).append(mapping)
    for source_slug, source_mappings in by_source.items():
        source = Source.objects.filter(slug=source_slug).first()
        if source is None:
            raise InvalidInput(f"No source with slug {source_slug!r}.")
        _write_mappings(entity_type, source, source_mappings)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Created entity type {name}", outputs=[entity_type],
                    parameters={"attributes": [a["name"] for a in attributes], "sources": sorted(by_source)})
    return entity_type


def _write_attributes(entity_type: EntityType, attributes: list[dict]) -> tuple[list[tuple[Attribute, str]], bool]:
    """Update attributes in place by id (mappings and overrides point at them), add those without one, drop the
    others unless a source feeds them. Returns the (attribute, previous rule) of changed rules, and whether
    attributes were added, removed or renamed (either changes the golden records' shape)."""
    _check_attributes(attributes)
    existing = {a.pk: a for a in entity_type.attributes.all()}
    kept = {spec["id"] for spec in attributes if spec.get("id")}
    if kept - set(existing):
        raise InvalidInput(f"{entity_type.name} has no attribute with id {sorted(kept - set(existing))[0]}.")
    dropped = [a for pk, a in existing.items() if pk not in kept]
    mapped = sorted(a.name for a in dropped if a.mappings.exists())
    if mapped:
        raise InvalidInput(f"Attributes a source still feeds cannot be removed: {', '.join(mapped)}. Remove the mappings first.")
    Attribute.objects.filter(pk__in=[a.pk for a in dropped]).delete()
    rule_changes, reshaped = [], bool(dropped)
    for position, spec in enumerate(attributes):
        attribute = existing.get(spec.get("id")) or Attribute(entity_type=entity_type)
        previous = attribute.survivorship if attribute.pk else None
        reshaped |= attribute.pk is None or attribute.name != spec.get("name", attribute.name)
        for name in ATTRIBUTE_FIELDS:
            if name in spec:
                setattr(attribute, name, spec[name])
        attribute.position = position
        attribute.save()
        if previous is not None and previous != attribute.survivorship:
            rule_changes.append((attribute, previous))
    return rule_changes, reshaped


@transaction.atomic
def update_entity_type(*, entity_type: EntityType, actor: AbstractBaseUser, attributes: list[dict] | None = None,
                       **changes) -> EntityType:
    """Change an entity type's settings and, when given, its attributes ({id, name, comparator, has_missing,
    survivorship}; no id for a new one; one left out is removed). Changed rules or attributes recompute the golden
    records and a changed threshold re-clusters, as the rules page does."""
    ensure_allowed(actor, "mastering.change_entity_type", entity_type, message="Only admins can change an entity type.")
    unknown = sorted(set(changes) - SETTINGS)
    if unknown:
        raise InvalidInput(f"Unknown entity type setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
    _check_names(changes.get("name", entity_type.name), changes.get("slug", entity_type.slug), other_than=entity_type)
    check_threshold(changes.get("match_threshold"))
    previous_threshold = entity_type.match_threshold
    for name, value in changes.items():
        setattr(entity_type, name, value)
    entity_type.save()
    rule_changes, reshaped = _write_attributes(entity_type, attributes) if attributes is not None else ([], False)
    threshold_changed = entity_type.match_threshold != previous_threshold
    if rule_changes or threshold_changed:
        ensure_may_change_golden_rules(user=actor, entity_type=entity_type)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Changed entity type {entity_type.name}",
                    outputs=[entity_type], parameters={"changed": sorted(changes) + (["attributes"] if attributes is not None else [])})
    for attribute, previous in rule_changes:
        record_rule_change(attribute=attribute, previous=previous, user=actor)
    if (rule_changes or reshaped) and has_entities(entity_type):
        recompute_golden_records(entity_type=entity_type, user=actor,
                                 parameters={"rules": {a.name: a.survivorship for a, _ in rule_changes}})
    if threshold_changed:
        record_threshold_change(entity_type=entity_type, previous=previous_threshold, user=actor)
        recluster(entity_type=entity_type, user=actor)
    return entity_type


@transaction.atomic
def delete_entity_type(*, entity_type: EntityType, actor: AbstractBaseUser) -> None:
    """Delete an entity type with everything mastered and learned for it; refused while one of its jobs is live."""
    ensure_allowed(actor, "mastering.change_entity_type", entity_type, message="Only admins can delete an entity type.")
    live = entity_type.jobs.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
    if live is not None:
        raise JobAlreadyRunning(live)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Deleted entity type {entity_type.name}",
                    inputs=[entity_type], parameters={"entities": entity_type.entities.count(),
                                                      "models": entity_type.models.count()})
    entity_type.delete()


def _write_mappings(entity_type: EntityType, source: Source, mappings: list[dict]) -> None:
    attributes = {a.name: a for a in entity_type.attributes.all()}
    fields = {f.name: f for f in source.fields.all()}
    AttributeMapping.objects.filter(attribute__entity_type=entity_type, source=source).delete()
    rows = []
    for position, mapping in enumerate(mappings):
        attribute = attributes.get(mapping["attribute"])
        field = fields.get(mapping["field"])
        if attribute is None:
            raise InvalidInput(f"{entity_type.name} has no attribute {mapping['attribute']!r}.")
        if field is None:
            raise InvalidInput(f"{source.name} has no field {mapping['field']!r}.")
        rows.append(AttributeMapping(attribute=attribute, source=source, field=field, position=position,
                                     transforms=_check_transforms(mapping.get("transforms") or [])))
    AttributeMapping.objects.bulk_create(rows)
    mark_configuration_changed(entity_type_id=entity_type.pk)


@transaction.atomic
def set_mappings(*, entity_type: EntityType, source: Source, mappings: list[dict], actor: AbstractBaseUser | None) -> EntityType:
    """Replace how one source's fields feed the entity type's attributes."""
    _write_mappings(entity_type, source, mappings)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Mapped {source.name} into {entity_type.name}",
                    inputs=[source], outputs=[entity_type],
                    parameters={"mappings": [f"{m['field']}→{m['attribute']}" for m in mappings]})
    return entity_type


def _group_rows(entity_type: EntityType, source: Source, *, leaving_out=()) -> list[tuple]:
    """The mappings of one source into one type as (attribute position, attribute id, position, id, spec), in order."""
    rows = AttributeMapping.objects.filter(attribute__entity_type=entity_type, source=source).exclude(pk__in=list(leaving_out))
    return [(m.attribute.position, m.attribute_id, m.position, m.pk,
             {"field": m.field.name, "attribute": m.attribute.name, "transforms": m.transforms})
            for m in rows.select_related("attribute", "field")]


@transaction.atomic
def map_field(*, attribute: Attribute, field: SourceField, transforms: list[str], actor: AbstractBaseUser | None,
              position: int = 0, replacing: AttributeMapping | None = None) -> AttributeMapping:
    """Feed one source field into an attribute (or change the mapping `replacing` to do so); the source's other
    mappings into the type stay as they are."""
    entity_type, source = attribute.entity_type, field.source
    if replacing is not None:
        replaced_type, replaced_source = replacing.attribute.entity_type, replacing.source
        if (replaced_type.pk, replaced_source.pk) != (entity_type.pk, source.pk):
            unmap_fields(mappings=[replacing], actor=actor)
    rows = _group_rows(entity_type, source, leaving_out=[replacing.pk] if replacing is not None else [])
    # A new mapping goes after those of equal position: the fields of one attribute are joined in this order.
    rows.append((attribute.position, attribute.pk, position, float("inf"),
                 {"field": field.name, "attribute": attribute.name, "transforms": list(transforms)}))
    set_mappings(entity_type=entity_type, source=source, mappings=[row[-1] for row in sorted(rows, key=lambda r: r[:4])],
                 actor=actor)
    return AttributeMapping.objects.get(attribute=attribute, field=field)


@transaction.atomic
def unmap_fields(*, mappings: Iterable[AttributeMapping], actor: AbstractBaseUser | None) -> None:
    """Stop the given mappings feeding their attributes; each source's other mappings stay."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for mapping in mappings:
        groups[(mapping.attribute.entity_type_id, mapping.source_id)].append(mapping.pk)
    for (entity_type_id, source_id), ids in groups.items():
        entity_type, source = EntityType.objects.get(pk=entity_type_id), Source.objects.get(pk=source_id)
        rows = _group_rows(entity_type, source, leaving_out=ids)
        set_mappings(entity_type=entity_type, source=source, mappings=[row[-1] for row in sorted(rows, key=lambda r: r[:4])],
                     actor=actor)


def _name_score(field: str, attribute: str) -> tuple[float, str]:
    a, b = normalize_name(field), normalize_name(attribute)
    if a == b:
        return 1.0, "same name"
    if any(a in group and b in group for group in SYNONYMS):
        return 0.9, "synonym"
    return SequenceMatcher(None, a, b).ratio(), "similar name"


def _sample_values(source: Source, field: str, *, limit: int = 300) -> set[str]:
    values = set()
    for data in SourceRecord.objects.filter(source=source, retired=False).values_list("data", flat=True)[:limit]:
        value = apply_transforms(data.get(field), ("trim", "lowercase"))
        if value:
            values.add(value)
    return values


def propose_mappings(*, entity_type: EntityType, source: Source) -> list[dict]:
    """Guess which of the source's fields feed which attributes, by name and by values shared with mapped sources."""
    projection = projection_for(entity_type)
    attribute_values: dict[str, set[str]] = {a.name: set() for a in projection.attributes}
    other_sources = [s for s in projection.source_ids if s != source.pk]
    sample = list(SourceRecord.objects.filter(source_id__in=other_sources, retired=False).values_list("source_id", "data")[:2000])
    for source_id, data in sample:
        for name, value in projection.project(source_id, data).items():
            if value:
                attribute_values[name].add(value.lower())
    proposals = []
    for field in source.fields.all():
        if field.name == source.key_field:
            continue
        field_values = _sample_values(source, field.name)
        best = None
        for attribute in projection.attributes:
            score, reason = _name_score(field.name, attribute.name)
            known = attribute_values.get(attribute.name) or set()
            if field_values and known:
                overlap = len(field_values & known) / len(field_values)
                if overlap > score:
                    score, reason = overlap, f"{overlap:.0%} of its values appear under {attribute.name}"
            if best is None or score > best["score"]:
                best = {"field": field.name, "attribute": attribute.name, "score": round(score, 2), "reason": reason,
                        "transforms": ["trim", "lowercase", "collapse_whitespace"]}
        if best and best["score"] >= PROPOSAL_THRESHOLD:
            proposals.append(best)
    # One field per attribute unless names say otherwise: keep the strongest claim.
    proposals.sort(key=lambda p: -p["score"])
    return proposals


def infer_attributes(*, source: Source, sample_size: int = 500, seed: int = 0) -> list[dict]:
    """Attributes for a new entity type from one source's fields, comparators inferred from values."""
    from mastering.engine import infer_comparator

    records = list(SourceRecord.objects.filter(source=source, retired=False).values_list("data", flat=True)[:5000])
    rng = random.Random(seed)
    sample = rng.sample(records, min(sample_size, len(records)))
    attributes = []
    for field in source.fields.all():
        if field.name == source.key_field:
            continue
        values = [apply_transforms(data.get(field.name), ("trim",)) for data in sample]
        attributes.append({"name": field.name, "comparator": infer_comparator(values),
                           "has_missing": any(v is None for v in values)})
    return attributes

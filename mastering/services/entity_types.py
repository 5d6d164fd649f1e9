"""Entity types, their attributes, and mappings from source fields."""

import random
from difflib import SequenceMatcher

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from lineage.models import Activity
from lineage.services import record_activity
from mastering.mapping import TRANSFORMS, apply_transforms, normalize_name, projection_for
from mastering.models import Attribute, AttributeMapping, EntityType, Source, SourceRecord
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


def _check_transforms(transforms: list[str]) -> list[str]:
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        raise InvalidInput(f"Unknown transform{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}; use {', '.join(TRANSFORMS)}.")
    return list(transforms)


@transaction.atomic
def create_entity_type(
    *, name: str, attributes: list[dict], actor: AbstractBaseUser | None, slug: str = "", mappings: list[dict] = (),
    **options,
) -> EntityType:
    """Create an entity type with its attributes and, optionally, mappings ({source, field, attribute, transforms})."""
    slug = slug or slugify(name)[:50]
    if EntityType.objects.filter(slug=slug).exists() or EntityType.objects.filter(name=name).exists():
        raise InvalidInput(f"An entity type named {name!r} (slug {slug!r}) already exists.")
    if not attributes:
        raise InvalidInput("An entity type needs at least one attribute.")
    names = [a["name"] for a in attributes]
    if len(set(names)) != len(names):
        raise InvalidInput("Attribute names must be unique.")
    entity_type = EntityType.objects.create(name=name, slug=slug, **options)
    Attribute.objects.bulk_create(
        [Attribute(entity_type=entity_type, position=i, **{k: v for k, v in a.items() if k in
                   {"name", "comparator", "has_missing", "survivorship"}}) for i, a in enumerate(attributes)]
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
                    parameters={"attributes": names, "sources": sorted(by_source)})
    return entity_type


def mark_configuration_changed(*, entity_type_id: int) -> None:
    """Stamp the entity type as changed, so every process reloads its cached projection and active model."""
    EntityType.objects.filter(pk=entity_type_id).update(updated_at=timezone.now())


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

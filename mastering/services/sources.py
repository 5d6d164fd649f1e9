from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from lineage.models import Activity
from lineage.services import record_activity
from mastering.ingest.inference import infer_field_type
from mastering.ingest.limits import LONGEST_VALUE_LENGTH
from mastering.ingest.parsing import inspect_file, read_chunks
from mastering.models import Source, SourceField
from steward.errors import InvalidInput


MAX_MISSING_VALUES = 50
MAX_MISSING_VALUE_LENGTH = 100


def clean_missing_values(values: list[str] | tuple[str, ...] | None) -> list[str]:
    """The values a source treats as missing: trimmed, none empty, each once (ignoring case), in the order given."""
    if values is None:
        return []
    if isinstance(values, str) or not all(isinstance(value, str) for value in values):
        raise InvalidInput("Missing values are a list of texts, such as [\"NA\", \"null\"].")
    cleaned: dict[str, str] = {}
    for value in values:
        value = value.strip()
        if len(value) > MAX_MISSING_VALUE_LENGTH:
            raise InvalidInput(f"A missing value may be at most {MAX_MISSING_VALUE_LENGTH} characters: {value[:40]!r}….")
        if value:
            cleaned.setdefault(value.lower(), value)
    if len(cleaned) > MAX_MISSING_VALUES:
        raise InvalidInput(f"A source may treat at most {MAX_MISSING_VALUES} values as missing.")
    return list(cleaned.values())


def _check_fields(key_field: str, fields: list[dict]) -> None:
    names = [f["name"] for f in fields]
    if not names:
        raise InvalidInput("A source needs at least one field.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"Field names must be unique; repeated: {', '.join(duplicates)}.")
    if key_field not in names:
        raise InvalidInput(f"The key field {key_field!r} must be one of the fields: {', '.join(names)}.")
    for spec in fields:
        limit = spec.get("max_length")
        if limit is not None and not (isinstance(limit, int) and 1 <= limit <= LONGEST_VALUE_LENGTH):
            raise InvalidInput(f"The max length of {spec['name']!r} must be a whole number from 1 to {LONGEST_VALUE_LENGTH:,}, "
                               "or empty for the default.")


def _write_fields(source: Source, fields: list[dict]) -> None:
    """Update fields in place by name (mappings point at them), add new ones, drop removed unmapped ones."""
    existing = {f.name: f for f in source.fields.all()}
    wanted = {f["name"] for f in fields}
    mapped = sorted(name for name, f in existing.items() if name not in wanted and f.mappings.exists())
    if mapped:
        raise InvalidInput(f"Fields still mapped into an entity type cannot be removed: {', '.join(mapped)}. Remove the mappings first.")
    source.fields.exclude(name__in=wanted).delete()
    for index, spec in enumerate(fields):
        field = existing.get(spec["name"]) or SourceField(source=source, name=spec["name"])
        field.type = spec.get("type") or SourceField.Type.STRING
        field.required = bool(spec.get("required", False)) or spec["name"] == source.key_field
        field.description = spec.get("description", "")
        field.max_length = spec.get("max_length")
        field.position = index
        field.save()


@transaction.atomic
def create_source(
    *,
    name: str,
    key_field: str,
    fields: list[dict],
    actor: AbstractBaseUser | None,
    slug: str = "",
    description: str = "",
    owner: AbstractBaseUser | None = None,
    active: bool = True,
    ingest_mode: str = Source.IngestMode.BATCH,
    priority: int = 0,
    missing_values: list[str] | None = None,
) -> Source:
    """Create a source with its fields; the key field is always required."""
    _check_fields(key_field, fields)
    missing_values = clean_missing_values(missing_values)
    slug = slug or slugify(name)[:50]
    if Source.objects.filter(slug=slug).exists() or Source.objects.filter(name=name).exists():
        raise InvalidInput(f"A source named {name!r} (slug {slug!r}) already exists.")
    source = Source.objects.create(
        name=name, slug=slug, key_field=key_field, description=description, owner=owner,
        active=active, ingest_mode=ingest_mode, priority=priority, missing_values=missing_values,
    )
    _write_fields(source, fields)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Created source {name}", outputs=[source],
                    parameters={"key_field": key_field, "fields": [f["name"] for f in fields],
                                "missing_values": missing_values})
    return source


@transaction.atomic
def update_source(*, source: Source, actor: AbstractBaseUser | None, fields: list[dict] | None = None, **changes) -> Source:
    """Change a source's settings and, when given, replace its field list."""
    key_field = changes.get("key_field", source.key_field)
    if fields is not None:
        _check_fields(key_field, fields)
    elif "key_field" in changes and not source.fields.filter(name=key_field).exists():
        raise InvalidInput(f"The key field {key_field!r} must be one of the source's fields.")
    if "missing_values" in changes:
        changes["missing_values"] = clean_missing_values(changes["missing_values"])
    for attribute, value in changes.items():
        setattr(source, attribute, value)
    source.save()
    if fields is not None:
        _write_fields(source, fields)
    else:
        source.fields.filter(name=key_field).update(required=True)  # a record without its key cannot be stored
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Changed source {source.name}", outputs=[source],
                    parameters={"changed": sorted(changes) + (["fields"] if fields is not None else []),
                                **({"missing_values": changes["missing_values"]} if "missing_values" in changes else {})})
    return source


@transaction.atomic
def delete_source(*, source: Source, actor: AbstractBaseUser | None) -> None:
    """Delete a source that has received nothing and feeds no entity type."""
    if source.records.exists() or source.batches.exists():
        raise InvalidInput(f"{source.name} has received data, which lineage points at; make it inactive instead.")
    fed = sorted(set(source.mappings.values_list("attribute__entity_type__name", flat=True)))
    if fed:
        raise InvalidInput(f"{source.name} still feeds {', '.join(fed)}. Remove its mappings first.")
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Deleted source {source.name}", inputs=[source],
                    parameters={"fields": list(source.fields.values_list("name", flat=True))})
    source.delete()


def propose_fields(*, path: Path, file_name: str, sample_rows: int = 5000, missing_values: list[str] | None = None) -> list[dict]:
    """Read a sample table and propose one field per column, with an inferred type; missing values count as empty."""
    missing = {value.strip().lower() for value in missing_values or ()}
    table = inspect_file(path, file_name)
    columns: dict[str, list[str]] = {}
    seen = 0
    for chunk in read_chunks(table, chunk_rows=1000):
        for name in chunk.frame.columns:
            columns.setdefault(name, []).extend(chunk.frame[name].astype(str).tolist())
        seen += len(chunk.frame)
        if seen >= sample_rows:
            break
    proposals = []
    for name, values in columns.items():
        filled = [v.strip() for v in values if v and v.strip() and v.strip().lower() not in missing]
        proposals.append(
            {
                "name": name,
                "type": infer_field_type(filled),
                "required": bool(values) and len(filled) == len(values),
                "filled": f"{len(filled)}/{len(values)}",
                "example": filled[0][:60] if filled else "",
            }
        )
    return proposals

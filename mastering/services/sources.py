from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from lineage.models import Activity
from lineage.services import record_activity
from mastering.ingest.inference import infer_field_type
from mastering.ingest.parsing import inspect_file, read_chunks
from mastering.models import Source, SourceField
from steward.errors import InvalidInput


def _check_fields(key_field: str, fields: list[dict]) -> None:
    names = [f["name"] for f in fields]
    if not names:
        raise InvalidInput("A source needs at least one field.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInput(f"Field names must be unique; repeated: {', '.join(duplicates)}.")
    if key_field not in names:
        raise InvalidInput(f"The key field {key_field!r} must be one of the fields: {', '.join(names)}.")


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
) -> Source:
    """Create a source with its fields; the key field is always required."""
    _check_fields(key_field, fields)
    slug = slug or slugify(name)[:50]
    if Source.objects.filter(slug=slug).exists() or Source.objects.filter(name=name).exists():
        raise InvalidInput(f"A source named {name!r} (slug {slug!r}) already exists.")
    source = Source.objects.create(
        name=name, slug=slug, key_field=key_field, description=description, owner=owner,
        active=active, ingest_mode=ingest_mode, priority=priority,
    )
    _write_fields(source, fields)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Created source {name}", outputs=[source],
                    parameters={"key_field": key_field, "fields": [f["name"] for f in fields]})
    return source


@transaction.atomic
def update_source(*, source: Source, actor: AbstractBaseUser | None, fields: list[dict] | None = None, **changes) -> Source:
    """Change a source's settings and, when given, replace its field list."""
    key_field = changes.get("key_field", source.key_field)
    if fields is not None:
        _check_fields(key_field, fields)
    elif "key_field" in changes and not source.fields.filter(name=key_field).exists():
        raise InvalidInput(f"The key field {key_field!r} must be one of the source's fields.")
    for attribute, value in changes.items():
        setattr(source, attribute, value)
    source.save()
    if fields is not None:
        _write_fields(source, fields)
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Changed source {source.name}", outputs=[source],
                    parameters={"changed": sorted(changes) + (["fields"] if fields is not None else [])})
    return source


def propose_fields(*, path: Path, file_name: str, sample_rows: int = 5000) -> list[dict]:
    """Read a sample table and propose one field per column, with an inferred type."""
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
        filled = [v.strip() for v in values if v and v.strip()]
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

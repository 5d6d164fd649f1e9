"""Validate OpenLineage events against the vendored spec and the schema of every facet they carry."""

import json
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from urllib.parse import urldefrag, urlparse

from django.conf import settings
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from lineage.facets import SCHEMA_FILE

SCHEMA_DIR = Path(__file__).parent / "schema"
CORE_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

format_checker = FormatChecker()


# jsonschema checks these two only with optional packages; checked here so that a bad time or URI fails.
@format_checker.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    if "T" not in value.upper() or parsed.tzinfo is None:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with an offset")
    return True


@format_checker.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    if isinstance(value, str) and not urlparse(value).scheme:
        raise ValueError(f"{value!r} is not an absolute URI")
    return True


@lru_cache
def _registry(steward_url: str) -> Registry:
    resources = [(CORE_URL, json.loads((SCHEMA_DIR / "OpenLineage.json").read_text()))]
    for path in (SCHEMA_DIR / "facets").glob("*.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], schema))
    steward = settings.BASE_DIR / "static" / SCHEMA_FILE
    resources.append((steward_url, json.loads(steward.read_text())))
    return Registry().with_resources((url, Resource.from_contents(body)) for url, body in resources)


def _facets(document: dict):
    yield from document.get("run", {}).get("facets", {}).items()
    yield from document.get("job", {}).get("facets", {}).items()
    for dataset in document.get("inputs", []) + document.get("outputs", []):
        for key in ("facets", "inputFacets", "outputFacets"):
            yield from dataset.get(key, {}).items()


def validate_event(document: dict) -> None:
    """Raise jsonschema.ValidationError (or KeyError for a facet with no vendored schema) if the event is invalid."""
    registry = _registry(f"{settings.STEWARD_BASE_URL}/{settings.STATIC_URL.strip('/')}/{SCHEMA_FILE}")
    Draft202012Validator({"$ref": f"{CORE_URL}#/$defs/RunEvent"}, registry=registry,
                         format_checker=format_checker).validate(document)
    for name, facet in _facets(document):
        url = facet["_schemaURL"]
        base, _ = urldefrag(url)
        try:
            registry.get_or_retrieve(base)
        except Exception as exc:  # referencing raises its own Unretrievable
            raise KeyError(f"No vendored schema for facet {name!r} ({url})") from exc
        Draft202012Validator({"$ref": url}, registry=registry, format_checker=format_checker).validate(facet)

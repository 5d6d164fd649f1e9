"""Every route the app serves: API operations from the OpenAPI schema, pages from a walk of the URL conf.

Routes are written as path templates (`/api/pairs/{id}/answer/`); `shape()` drops parameter names so the
schema's and the URL conf's spellings of one route compare equal. `fill()` puts ids of seeded objects into them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from benchmarks.harden.seed import Seeded

API_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass
class Route:
    template: str  # /sources/{slug}/batches/{batch_id}/
    name: str  # URL name (namespace:name) or the schema's operationId
    kind: str  # "api" or "page"
    methods: list[str] = field(default_factory=list)  # upper case; pages: filled in by probing


def shape(template: str) -> str:
    """The template with parameter names dropped: /api/pairs/{}/answer/."""
    return re.sub(r"\{[^}]*\}", "{}", template)


def schema_operations() -> dict[str, list[str]]:
    """Path template -> methods, from the OpenAPI schema the app serves at /api/schema/."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {path: [m.upper() for m in API_METHODS if m in item] for path, item in schema["paths"].items()}


def _template(pattern: str) -> str:
    text = re.sub(r"\(\?P<([^>]+)>[^)]*\)", r"{\1}", pattern)  # (?P<pk>[^/.]+) -> {pk}
    text = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", text)  # <slug:slug> -> {slug}
    return "/" + text.replace("^", "").replace("$", "")


def urlconf_routes() -> list[Route]:
    """Every route of the root URL conf except DRF's format-suffix twins (`.json`), which alias another route."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(resolver, prefix: str, namespace: str):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, prefix + str(entry.pattern), namespace + (f"{entry.namespace}:" if entry.namespace else ""))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern), namespace + (entry.name or "")

    routes, seen = [], set()
    for pattern, name in walk(get_resolver(), "", ""):
        if "(?P<format>" in pattern or "<drf_format_suffix:format>" in pattern:
            continue
        template = _template(pattern)
        if template in seen:
            continue
        seen.add(template)
        routes.append(Route(template=template, name=name, kind="api" if template.startswith("/api/") else "page"))
    return routes


def all_routes() -> list[Route]:
    """API routes (schema operations, plus URL-conf API routes the schema leaves out) and page routes."""
    operations = schema_operations()
    routes = [Route(template=path, name="schema", kind="api", methods=methods) for path, methods in operations.items()]
    in_schema = {shape(path) for path in operations}
    for route in urlconf_routes():
        if route.kind == "page" or shape(route.template) not in in_schema:
            routes.append(route)
    return routes


class Unfillable(LookupError):
    pass


def fill(template: str, seeded: Seeded) -> str:
    """The template with each parameter replaced by the id of a seeded object it can name."""
    from urllib.parse import quote

    segments = template.strip("/").split("/")
    if segments and segments[0] == "admin":
        return _fill_admin(template, segments, seeded)
    out, previous = [], ""
    for segment in segments:
        match = re.fullmatch(r"\{([^}]+)\}", segment)
        if not match:
            out.append(segment)
            previous = segment
            continue
        name = match.group(1)
        value = seeded.values.get((previous, name), seeded.values.get(name))
        if value is None:
            raise Unfillable(f"no seeded value for {{{name}}} after '{previous}/' in {template}")
        out.append(quote(str(value), safe=""))
    path = ("/" + "/".join(out) + ("/" if template.endswith("/") else "")).replace("//", "/")
    query = seeded.queries.get(template)
    return f"{path}?{query}" if query else path


def _fill_admin(template: str, segments: list[str], seeded: Seeded) -> str:
    """Admin routes: object ids come from the model the route is about (admin/<app>/<model>/{object_id}/...)."""
    from django.contrib.contenttypes.models import ContentType

    out = []
    for index, segment in enumerate(segments):
        match = re.fullmatch(r"\{([^}]+)\}", segment)
        if not match:
            out.append(segment)
            continue
        name = match.group(1)
        if name == "app_label":
            value = "mastering"
        elif name == "url":
            value = "no-such-admin-page"
        elif name == "content_type_id":
            value = ContentType.objects.get_by_natural_key("mastering", "source").pk
        elif name == "object_id" and segments[index - 1] == "{content_type_id}":
            value = seeded.models.get("mastering.source")
        elif name in ("entity_type_id", "source_id"):
            value = seeded.models.get(f"mastering.{name.removesuffix('_id').replace('_', '')}")
        elif name in ("object_id", "id") and index >= 3:
            value = seeded.models.get(f"{segments[1]}.{segments[2]}")
        else:
            value = None
        if value is None:
            raise Unfillable(f"no seeded value for {{{name}}} in {template}")
        out.append(str(value))
    return "/" + "/".join(out) + ("/" if template.endswith("/") else "")

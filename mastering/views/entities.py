from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from mastering import selectors
from mastering.filters import EntityFilter
from mastering.models import Entity, EntityType, RunChange
from steward.htmx import is_htmx
from steward.paging import querystring_without_page


def entity_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Golden records of an entity type: search, filter by source, size, confidence and last run; sort; paginate."""
    entity_type = get_object_or_404(selectors.list_entity_types(), slug=slug)
    filterset = EntityFilter(request.GET, queryset=selectors.list_entities(entity_type=entity_type))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    columns = [a.name for a in entity_type.attributes.all()][:6]
    rows = [{"entity": e, "values": [e.golden.get(c) for c in columns]} for e in page]
    context = {
        "entity_type": entity_type, "filter": filterset, "page_obj": page, "rows": rows, "columns": columns,
        "query": querystring_without_page(request), "last_run": selectors.last_master_job(entity_type=entity_type),
        "sources": selectors.mapped_sources(entity_type=entity_type),
    }
    template = "mastering/partials/_entity_table.html" if is_htmx(request) else "mastering/entity_list.html"
    return render(request, template, context)


def entity_detail(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """One entity: its golden record with each value's rule and origin, and its member records side by side."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    try:
        entity, old = selectors.resolve_entity(entity_type=entity_type, entity_id=entity_id)
    except Entity.DoesNotExist as exc:
        raise Http404(str(exc)) from None
    if old is not None:
        messages.info(request, f"Entity {old} was merged into this one; its old id leads here.")
        return redirect(entity.get_absolute_url())
    entity = selectors.list_entities(entity_type=entity_type).get(pk=entity.pk)
    attributes = list(entity_type.attributes.all())
    from mastering.mapping import projection_for

    projection = projection_for(entity_type)
    members = [{"membership": m, "values": projection.project(m.record.source_id, m.record.data)} for m in entity.memberships.all()]
    golden_rows = []
    for attribute in attributes:
        origin = entity.provenance.get(attribute.name, {})
        golden_rows.append({
            "attribute": attribute, "value": entity.golden.get(attribute.name), "origin": origin,
            "cells": [{"value": m["values"].get(attribute.name),
                       "chosen": origin.get("record") == m["membership"].record_id,
                       "differs": (m["values"].get(attribute.name) or "") != (entity.golden.get(attribute.name) or "")}
                      for m in members],
        })
    changes = RunChange.objects.filter(entity_type=entity_type, entity_id=entity.pk).select_related("job", "edit__user")[:20]
    removable = {o.pk for o in entity.overrides.filter(removed_at__isnull=True) if request.user.has_perm("mastering.remove_override", o)}
    return render(request, "mastering/entity_detail.html", {
        "entity_type": entity_type, "entity": entity, "members": members, "golden_rows": golden_rows, "changes": changes,
        "removable_overrides": removable,
    })

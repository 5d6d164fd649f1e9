from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.timezone import localtime

from mastering import selectors
from mastering.config_cache import cached_projection
from mastering.filters import EntityFilter
from mastering.models import Entity, EntityType
from mastering.match_presenter import present_match
from mastering.presenters import present_entity
from mastering.services.matching import find_matches, probe_values
from steward.errors import ServiceError
from steward.htmx import is_htmx
from steward.paging import querystring_without_page


def entity_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Golden records of an entity type: search, filter by source, size, confidence and last run; sort; paginate."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    filterset = EntityFilter(request.GET, queryset=selectors.list_entity_rows(entity_type=entity_type))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    names = [a.name for a in cached_projection(entity_type).attributes]
    columns = names[:6]
    rows = [{"entity": e, "values": [e.golden.get(c) for c in columns], **_row_display(e)} for e in page]
    context = {
        "entity_type": entity_type, "filter": filterset, "page_obj": page, "rows": rows, "columns": columns,
        "query": querystring_without_page(request), "last_run": selectors.last_master_job(entity_type=entity_type),
        "sources": selectors.mapped_sources(entity_type=entity_type),
        "attributes": [(name, MATCH_PREFIX + name, "") for name in names],
    }
    template = "mastering/partials/_entity_table.html" if is_htmx(request) else "mastering/entity_list.html"
    return render(request, template, context)


def _row_display(entity: Entity) -> dict:
    """A list row's link, short id, confidence and time as text: 50 rows of template filters cost more than the page's
    queries."""
    return {
        "url": entity.get_absolute_url(), "short_id": str(entity.id)[:8],
        "confidence": "—" if entity.confidence is None else f"{entity.confidence:.2f}",
        "changed": localtime(entity.updated_at).strftime("%Y-%m-%d %H:%M"),
    }


def entity_detail(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """One entity as the presenter builds it (the API shows the same): golden values with rule and origin, members
    side by side with why each belongs, and its latest changes with who and why."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    entity = selectors.list_entities(entity_type=entity_type).filter(pk=entity_id).first()
    if entity is None:  # retired (merged into another) or unknown: one query more, only then
        try:
            survivor, old = selectors.resolve_entity(entity_type=entity_type, entity_id=entity_id)
        except Entity.DoesNotExist as exc:
            raise Http404(str(exc)) from None
        if old is not None:
            messages.info(request, f"Entity {old} was merged into this one; its old id leads here.")
        return redirect(survivor.get_absolute_url())
    view = present_entity(entity)
    return render(request, "mastering/entity_detail.html", {
        "entity_type": entity_type, "view": view, "removable_overrides": removable_overrides(request.user, view),
    })


def removable_overrides(user, view) -> set[int]:
    """The overrides shown that this user may remove (a query only when a golden value is an override)."""
    shown = {g.origin["override"] for g in view.golden_values if g.origin.get("rule") == "override" and g.origin.get("override")}
    if not shown:
        return set()
    return {o.pk for o in view.entity.overrides.filter(pk__in=shown, removed_at__isnull=True) if user.has_perm("mastering.remove_override", o)}


MATCH_PREFIX = "m_"  # the match form's fields: m_<attribute>


def entity_match(request: HttpRequest, slug: str) -> HttpResponse:
    """The "Find a match" box: candidate entities for values typed in, as the match API finds them; writes nothing."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    attributes = [a.name for a in entity_type.attributes.all()]
    given = {name: request.GET.get(MATCH_PREFIX + name, "").strip() for name in attributes}
    context = {"entity_type": entity_type, "attributes": [(name, MATCH_PREFIX + name, given[name]) for name in attributes]}
    if any(given.values()):
        try:
            values = probe_values(entity_type=entity_type, record={k: v for k, v in given.items() if v})
            context["match"] = present_match(find_matches(entity_type=entity_type, values=values, limit=5))
        except ServiceError as exc:
            context["problem"] = exc.message
    template = "mastering/partials/_match_results.html" if is_htmx(request) else "mastering/entity_match.html"
    return render(request, template, context)

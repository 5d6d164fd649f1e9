"""Pages for cluster review: edits and overrides on the entity page, history, changes, review lists, rules, diagnostics."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods, require_POST

from curation import selectors, services
from mastering import history
from mastering import selectors as mastering_selectors
from mastering.filters import EntityFilter
from mastering.models import Attribute, Entity, EntityType, Membership, RunChange, ValueOverride
from mastering.services import entities as entity_services
from steward.charts import Bar, LineChart, Series, bar_chart_svg, line_chart_svg
from steward.errors import ServiceError
from steward.paging import querystring_without_page

REVIEW_LISTS = {
    "low-confidence": ("Low-confidence entities", "Entities whose weakest member the model was least sure of.", "confidence"),
    "changed": ("Changed by the last run", "Entities the last mastering run created or changed.", "-updated_at"),
    "large": ("Very large entities", "The biggest entities: where over-merging shows first.", "-size"),
}


@permission_required("accounts.curate", raise_exception=True)
@require_POST
def entity_edit(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """Apply one cluster edit or override from the entity page, then show the entity again."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    entity = get_object_or_404(Entity, entity_type=entity_type, pk=entity_id)
    action, reason = request.POST.get("action", ""), request.POST.get("reason", "").strip()
    destination = entity
    try:
        if not reason and action != "remove_override":
            raise ServiceError("Say briefly why: the reason is kept with the edit.")
        if action == "split":
            records = [int(r) for r in request.POST.getlist("records")]
            _, destination = services.split_records(entity=entity, records=records, user=request.user, reason=reason)
            messages.success(request, f"Split {len(records)} record{'s' if len(records) != 1 else ''} into a new entity.")
        elif action == "move":
            target = get_object_or_404(Entity, entity_type=entity_type, pk=request.POST.get("target"))
            services.move_record(entity=entity, record=int(request.POST["record"]), target=target, user=request.user, reason=reason)
            destination = target
            messages.success(request, "Record moved.")
        elif action == "merge":
            other = get_object_or_404(Entity, entity_type=entity_type, pk=request.POST.get("target"))
            services.merge_entities(survivor=entity, others=[other], user=request.user, reason=reason)
            messages.success(request, f"Merged; {str(other.pk)[:8]} now leads here.")
        elif action in ("pin", "unpin"):
            services.pin_entity(entity=entity, user=request.user, reason=reason, pinned=action == "pin")
            messages.success(request, "Pinned: runs will neither add nor remove records." if action == "pin" else "Unpinned.")
        elif action == "override":
            attribute = get_object_or_404(Attribute, entity_type=entity_type, name=request.POST.get("attribute"))
            entity_services.override_value(entity=entity, attribute=attribute, value=request.POST.get("value", ""),
                                           user=request.user, reason=reason)
            messages.success(request, f"{attribute.name} overridden.")
        elif action == "remove_override":
            override = get_object_or_404(ValueOverride, pk=request.POST.get("override"), entity=entity)
            entity_services.remove_override(override=override, user=request.user)
            messages.success(request, "Override removed; the rule decides again.")
        else:
            raise ServiceError("Unknown action.")
    except (ServiceError, ValueError, KeyError, ValidationError) as exc:
        messages.warning(request, getattr(exc, "message", None) if isinstance(exc, ServiceError) else "That edit was incomplete.")
    destination = Entity.objects.get(pk=destination.pk)
    if destination.retired_at is not None and destination.retired_into_id:
        destination = destination.retired_into
    return redirect(destination.get_absolute_url())


def entity_search(request: HttpRequest, slug: str) -> HttpResponse:
    """Entities matching a search, as choices for a move or merge target (htmx partial)."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    query = request.GET.get("q", "").strip()
    exclude = request.GET.get("exclude")
    results = []
    if len(query) >= 2:
        found = EntityFilter({"q": query}, queryset=mastering_selectors.list_entities(entity_type=entity_type)).qs
        if exclude:
            try:
                found = found.exclude(pk=uuid.UUID(exclude))
            except ValueError:
                pass  # not an entity id: nothing to leave out
        results = list(found[:10])
    return render(request, "curation/partials/_entity_choices.html", {"results": results, "query": query})


def entity_history(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """The entity's timeline; pick a point to see it as it was then and what changed since."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    entity = get_object_or_404(Entity, entity_type=entity_type, pk=entity_id)
    past, names = None, {}
    if request.GET.get("change"):
        try:
            past = history.state_after(entity, int(request.GET["change"]))
        except (RunChange.DoesNotExist, ValueError):
            messages.warning(request, "That point is not in this entity's history.")
        else:
            names = history.describe_records(past.members | set(past.members_in))
    return render(request, "curation/entity_history.html", {
        "entity_type": entity_type, "entity": entity, "timeline": history.timeline(entity), "past": past,
        "past_members": sorted(names.get(r, str(r)) for r in past.members) if past else [],
        "members_in": [names.get(r, str(r)) for r in past.members_in] if past else [],
        "members_out": [names.get(r, str(r)) for r in past.members_out] if past else [],
    })


def run_changes(request: HttpRequest, slug: str) -> HttpResponse:
    """What a run changed across all entities, with counts per kind and a filterable list."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    last = mastering_selectors.last_master_job(entity_type=entity_type)
    job_id = request.GET.get("job", "")
    job_id = int(job_id) if job_id.isdigit() else (last.pk if last else None)
    changes, counts = mastering_selectors.run_changes(entity_type=entity_type, job_id=job_id, kind=request.GET.get("kind", ""))
    page = Paginator(changes, 50).get_page(request.GET.get("page"))
    return render(request, "curation/run_changes.html", {
        "entity_type": entity_type, "job_id": job_id, "counts": counts, "page_obj": page,
        "changes": page, "query": querystring_without_page(request), "kinds": RunChange.Kind.choices,
        "runs": mastering_selectors.list_jobs().filter(entity_type=entity_type, kind="master", status="done")[:20],
    })


def review_list(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """A list to work through with the keyboard: low confidence, changed by the last run, very large."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    if name == "low-confidence-members":
        members = Membership.objects.filter(entity_type=entity_type, confidence__isnull=False, entity__retired_at__isnull=True) \
            .select_related("record__source", "entity__entity_type").order_by("confidence", "id")
        if request.GET.get("source"):
            members = members.filter(record__source__slug=request.GET["source"])
        page = Paginator(members, 50).get_page(request.GET.get("page"))
        return render(request, "curation/review_members.html", {
            "entity_type": entity_type, "page_obj": page, "members": page, "query": querystring_without_page(request),
            "lists": REVIEW_LISTS, "sources": mastering_selectors.mapped_sources(entity_type=entity_type)})
    if name not in REVIEW_LISTS:
        return redirect("curation:review", slug=slug, name="low-confidence")
    title, description, ordering = REVIEW_LISTS[name]
    params = request.GET.copy()
    params.setdefault("ordering", ordering)
    if name == "changed":
        params.setdefault("changed_in_last_run", "true")
    if name == "low-confidence":
        params.setdefault("size_min", "2")
    filterset = EntityFilter(params, queryset=mastering_selectors.list_entities(entity_type=entity_type))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    columns = [a.name for a in entity_type.attributes.all()][:4]
    return render(request, "curation/review_list.html", {
        "entity_type": entity_type, "title": title, "description": description, "name": name, "filter": filterset,
        "page_obj": page, "rows": [{"entity": e, "values": [e.golden.get(c) for c in columns]} for e in page],
        "columns": columns, "query": querystring_without_page(request), "lists": REVIEW_LISTS,
    })


@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest, slug: str) -> HttpResponse:
    """Survivorship rules per attribute: anyone previews how many golden values a change would alter (GET);
    those who may edit rules apply it (POST)."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    preview = None
    if request.method == "POST":
        if not request.user.has_perm("accounts.edit_rules"):
            return render(request, "403.html", status=403)
        attribute = get_object_or_404(Attribute, entity_type=entity_type, name=request.POST.get("attribute"))
        rule = request.POST.get("rule", "")
        try:
            if request.POST.get("apply"):
                job = entity_services.change_rule(attribute=attribute, rule=rule, user=request.user)
                messages.success(request, f"{attribute.name} now uses {rule}; golden records are being recomputed.")
                return redirect(job.get_absolute_url())
            preview = entity_services.preview_rule_change(entity_type=entity_type, attribute=attribute, rule=rule)
        except ServiceError as exc:
            messages.warning(request, exc.message)
    elif "attribute" in request.GET:
        attribute = get_object_or_404(Attribute, entity_type=entity_type, name=request.GET["attribute"])
        try:
            preview = entity_services.preview_rule_change(entity_type=entity_type, attribute=attribute,
                                                          rule=request.GET.get("rule", ""))
        except ServiceError as exc:
            messages.warning(request, exc.message)
    return render(request, "curation/rules.html", {"entity_type": entity_type, "attributes": entity_type.attributes.all(),
                                                   "rules": Attribute.Rule.choices, "preview": preview})


@require_http_methods(["GET", "POST"])
def diagnostics(request: HttpRequest, slug: str) -> HttpResponse:
    """Score distribution and precision/recall against the threshold, with a control to set the threshold."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    if request.method == "POST":
        if not request.user.has_perm("accounts.edit_rules"):
            return render(request, "403.html", status=403)
        try:
            entity_services.set_threshold(entity_type=entity_type, threshold=float(request.POST.get("threshold", "")), user=request.user)
            messages.success(request, "Threshold saved; the next mastering run uses it.")
        except (ServiceError, ValueError) as exc:
            messages.warning(request, getattr(exc, "message", "Give a number between 0 and 1."))
        return redirect("curation:diagnostics", slug=slug)
    data = selectors.diagnostics(entity_type=entity_type)
    threshold = data["threshold"]  # the type's, or its model's own: what the next run clusters at
    threshold_bin = int(threshold * 20) if threshold is not None else 20
    histogram = mark_safe(bar_chart_svg(
        [Bar(f"{i / 20:.2f}", n, "series-b" if i >= threshold_bin else "series-a") for i, n in enumerate(data["histogram"])],
        x_label="model score of compared pairs",
        markers=[(threshold_bin, f"threshold {threshold:.2f}")] if threshold is not None else []))
    curve = ""
    # Either measure may be undefined at a threshold: precision where nothing scores above it, recall where no label is a match.
    precision = [(c["threshold"], c["precision"]) for c in data["curve"] if c["precision"] is not None]
    recall = [(c["threshold"], c["recall"]) for c in data["curve"] if c["recall"] is not None]
    if precision or recall:
        curve = mark_safe(line_chart_svg(LineChart(
            series=[Series("precision", precision, "series-a"), Series("recall", recall, "series-b")],
            x_label="threshold", y_label="estimated from labels", markers=[(threshold, "current")] if threshold is not None else [])))
    return render(request, "curation/diagnostics.html", {"entity_type": entity_type, "data": data, "histogram": histogram,
                                                         "curve": curve})

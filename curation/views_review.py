"""Pages for cluster review: review lists, survivorship rules, diagnostics (entity edits and history live with entities)."""


from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods

from curation import selectors
from mastering import selectors as mastering_selectors
from mastering.filters import EntityFilter
from mastering.models import Attribute, EntityType, Membership
from mastering.services import entities as entity_services
from steward.charts import Bar, LineChart, Series, bar_chart_svg, line_chart_svg
from steward.errors import ServiceError
from steward.paging import querystring_without_page

REVIEW_LISTS = {
    "low-confidence": ("Low-confidence entities", "Entities whose weakest member the model was least sure of.", "confidence"),
    "changed": ("Changed by the last run", "Entities the last mastering run created or changed.", "-updated_at"),
    "large": ("Very large entities", "The biggest entities: where over-merging shows first.", "-size"),
}


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
            messages.success(request, "Threshold saved. Existing entities are re-clustered at it by a mastering run (see Jobs); a first run uses it too.")
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
    # The histogram's numbers, shown beside it: the score range of each bar and how many pairs fell in it.
    histogram_rows = [{"label": f"{i / 20:.2f}–{(i + 1) / 20:.2f}", "count": n, "clustered": i >= threshold_bin}
                      for i, n in enumerate(data["histogram"])]
    # The same numbers for Chart.js (static/js/charts.js), which replaces the SVG where scripts run.
    histogram_data = {"title": "Scores of compared pairs", "labels": [f"{i / 20:.2f}" for i in range(20)], "values": data["histogram"],
                      "series": "pairs", "x_label": "model score of compared pairs", "y_label": "pairs",
                      "highlight_from": threshold_bin if threshold is not None else None,
                      "marker_index": threshold_bin if threshold is not None else None,
                      "marker_label": f"threshold {threshold:.2f}" if threshold is not None else ""}
    by_threshold = {round(c["threshold"], 2): c for c in data["curve"]}
    labels = sorted(by_threshold)
    curve_data = {"title": "Precision and recall on the labelled pairs", "labels": [f"{t:.2f}" for t in labels],
                  "series": [{"name": name, "values": [by_threshold[t][name] for t in labels]} for name in ("precision", "recall")],
                  "x_label": "threshold", "y_label": "estimated from labels",
                  "marker_index": next((i for i, t in enumerate(labels) if threshold is not None and t >= threshold - 1e-9), None),
                  "marker_label": "current"}
    return render(request, "curation/diagnostics.html", {"entity_type": entity_type, "data": data, "histogram": histogram,
                                                         "curve": curve, "histogram_rows": histogram_rows,
                                                         "histogram_data": histogram_data, "curve_data": curve_data})

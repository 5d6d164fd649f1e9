from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from mastering import selectors, services
from mastering.models import Job
from steward.charts import LineChart, Series, line_chart_svg
from steward.errors import ServiceError


def entity_type_list(request: HttpRequest) -> HttpResponse:
    """Entity types with their sources and model versions."""
    return render(request, "mastering/entity_type_list.html", {"entity_types": selectors.entity_type_overview()})


def entity_type_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Attributes, mappings, model versions with their quality, and recent jobs."""
    entity_type = get_object_or_404(selectors.list_entity_types(), slug=slug)
    models = list(entity_type.models.order_by("version"))
    active = next((m for m in reversed(models) if m.active), None)
    chart = ""
    # A model may have a precision but no recall: its estimate gives none when the range is too wide.
    precision = [(m.label_count, m.precision) for m in models if m.precision is not None]
    recall = [(m.label_count, m.recall) for m in models if m.recall is not None]
    if precision or recall:
        chart = mark_safe(line_chart_svg(LineChart(
            series=[Series("precision", precision, "series-a"), Series("recall", recall, "series-b")],
            x_label="labels", y_label="estimated quality")))
    return render(request, "mastering/entity_type_detail.html", {
        "entity_type": entity_type, "models": list(reversed(models)), "quality_chart": chart, "active_model": active,
        "threshold": selectors.match_threshold_for(entity_type=entity_type, model=active),
        "jobs": selectors.list_jobs().filter(entity_type=entity_type)[:10],
        "sources": selectors.mapped_sources(entity_type=entity_type),
        "job_kinds": [(Job.Kind.TRAIN, "Train now"), (Job.Kind.MASTER, "Run mastering")],
    })


@permission_required("accounts.run_jobs", raise_exception=True)
@require_POST
def start_job(request: HttpRequest, slug: str) -> HttpResponse:
    """Start a job from the page and go watch it."""
    entity_type = get_object_or_404(selectors.list_entity_types(), slug=slug)
    try:
        job = services.start_job(entity_type=entity_type, kind=request.POST.get("kind", ""), user=request.user)
    except ServiceError as exc:
        messages.warning(request, exc.message)
        return redirect(entity_type.get_absolute_url())
    return redirect(job.get_absolute_url())

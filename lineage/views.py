from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from lineage import selectors
from lineage.filters import ActivityFilter
from steward.htmx import is_htmx
from steward.paging import querystring_without_page


def activity_list(request: HttpRequest) -> HttpResponse:
    """Everything that happened, newest first, filterable by kind, person and time."""
    filterset = ActivityFilter(request.GET, queryset=selectors.list_activities())
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    context = {"filter": filterset, "page_obj": page, "activities": page, "query": querystring_without_page(request)}
    template = "lineage/partials/_activity_table.html" if is_htmx(request) else "lineage/activity_list.html"
    return render(request, template, context)


def activity_detail(request: HttpRequest, activity_id: int) -> HttpResponse:
    """One activity with its parameters, inputs and outputs."""
    activity = get_object_or_404(selectors.list_activities(), pk=activity_id)
    return render(request, "lineage/activity_detail.html", {"activity": activity})

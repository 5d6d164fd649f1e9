from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mastering import selectors, services
from mastering.filters import JobFilter
from mastering.provenance import readable
from mastering.provenance.lineage import job_lineage
from steward.errors import ServiceError
from steward.htmx import is_htmx
from steward.paging import querystring_without_page


def job_list(request: HttpRequest) -> HttpResponse:
    """Every job, newest first, with live progress for the running ones."""
    filterset = JobFilter(request.GET, queryset=selectors.list_jobs())
    page = Paginator(filterset.qs, 30).get_page(request.GET.get("page"))
    context = {"filter": filterset, "page_obj": page, "jobs": page, "query": querystring_without_page(request)}
    template = "mastering/partials/_job_table.html" if is_htmx(request) else "mastering/job_list.html"
    return render(request, template, context)


def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job's stage, progress, counts, stage timings and error; polled while it runs."""
    job = get_object_or_404(selectors.list_jobs(), pk=job_id)
    template = "mastering/partials/_job_status.html" if is_htmx(request) else "mastering/job_detail.html"
    counts = {k: v for k, v in job.counts.items() if k != "per_predicate"}
    blocking = [{**row, "words": readable.predicate_words(row.get("predicate", ""))}
                for row in selectors.blocking_report(job=job)]
    context = {"job": job, "counts": counts, "blocking": blocking, "can_cancel": request.user.has_perm("accounts.run_jobs"),
               "count_rows": readable.rows(counts), "timing_rows": readable.rows(job.timings),
               "parameter_rows": readable.rows(job.parameters)}
    if not is_htmx(request):  # the polled status partial needs none of this
        context["lineage"] = job_lineage(job)
    return render(request, template, context)


@permission_required("accounts.run_jobs", raise_exception=True)
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(selectors.list_jobs(), pk=job_id)
    try:
        services.cancel_job(job=job, user=request.user)
        messages.success(request, f"Job #{job.pk} is being cancelled.")
    except ServiceError as exc:
        messages.warning(request, exc.message)
    return redirect(job.get_absolute_url())

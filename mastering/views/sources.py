import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.timezone import localtime
from django.views.decorators.http import require_http_methods, require_POST

from mastering import selectors, services
from mastering.filters import SourceBatchFilter, SourceFilter, SourceRecordFilter
from mastering.forms import IngestOptionsForm, UploadForm
from mastering.api.uploads import refuse_if_too_large
from mastering.ingest.limits import TooLarge
from mastering.ingest.parsing import write_upload
from mastering.ingest.preview import preview_table
from mastering.models import IngestBatch, Source, SourceRecord
from steward.errors import ServiceError
from steward.htmx import is_htmx
from steward.paging import querystring_without_page

UPLOADS_SESSION_KEY = "pending_uploads"


def source_list(request: HttpRequest) -> HttpResponse:
    """All sources with their record counts."""
    filterset = SourceFilter(request.GET, queryset=selectors.list_sources())
    return render(request, "mastering/source_list.html", {"filter": filterset, "sources": filterset.qs})


def source_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Browse a source's records: search, sort, paginate; recent batches alongside."""
    source = get_object_or_404(selectors.list_sources(), slug=slug)
    params = request.GET.copy()
    params.setdefault("retired", "false")
    filterset = SourceRecordFilter(params, queryset=selectors.list_records(source=source))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    columns = [f.name for f in source.fields.all() if f.name != source.key_field]
    # Link and time as text here: 50 rows of template filters cost more than the page's queries.
    rows = [{"record": record, "values": [record.data.get(name) for name in columns], "url": record.get_absolute_url(),
             "updated": localtime(record.updated_at).strftime("%Y-%m-%d %H:%M")} for record in page]
    context = {
        "source": source, "filter": filterset, "page_obj": page, "rows": rows, "columns": columns,
        "query": querystring_without_page(request), "batches": selectors.list_batches(source=source)[:5],
        "can_ingest": request.user.has_perm("accounts.ingest"),
    }
    template = "mastering/partials/_record_table.html" if is_htmx(request) else "mastering/source_detail.html"
    return render(request, template, context)


@permission_required("accounts.ingest", raise_exception=True)
@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: pick a file; it is checked and previewed before anything is written."""
    source = get_object_or_404(Source, slug=slug)
    if request.method == "POST":
        try:
            refuse_if_too_large(request)
        except TooLarge as exc:
            messages.error(request, exc.message)
            return render(request, "mastering/upload.html", _upload_context(source, UploadForm()), status=413)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload_file = form.cleaned_data["file"]
        path = services.new_upload_path()
        try:
            with upload_file.open("rb") as stream:
                write_upload(stream, path, max_bytes=settings.STEWARD_MAX_UPLOAD_BYTES)
        except TooLarge as exc:
            path.unlink(missing_ok=True)
            messages.error(request, exc.message)
            return render(request, "mastering/upload.html", _upload_context(source, form), status=413)
        token = uuid.uuid4().hex
        pending = request.session.get(UPLOADS_SESSION_KEY, {})
        pending[token] = {"path": str(path), "file_name": upload_file.name, "source": source.slug}
        request.session[UPLOADS_SESSION_KEY] = pending
        return redirect("mastering:source-upload-confirm", slug=source.slug, token=token)
    return render(request, "mastering/upload.html", _upload_context(source, form))


def _upload_context(source: Source, form: UploadForm) -> dict:
    limit = settings.STEWARD_MAX_UPLOAD_BYTES
    return {"source": source, "form": form, "max_bytes": limit, "max_mb": limit // (1024 * 1024),
            "too_large": TooLarge(limit).message}


def _pending_upload(request: HttpRequest, source: Source, token: str) -> dict:
    pending = request.session.get(UPLOADS_SESSION_KEY, {}).get(token)
    if not pending or pending["source"] != source.slug or not Path(pending["path"]).exists():
        raise Http404("This upload has expired or belongs to someone else; upload the file again.")
    return pending


@permission_required("accounts.ingest", raise_exception=True)
@require_http_methods(["GET", "POST"])
def upload_confirm(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    """Step 2: see the column matching, first rows and problems; confirm to ingest."""
    source = get_object_or_404(Source.objects.prefetch_related("fields"), slug=slug)
    try:
        pending = _pending_upload(request, source, token)
    except Http404:
        if request.method != "POST":
            raise
        messages.info(request, "This upload was already sent (or has expired); its batch, if any, is listed here.")
        return redirect("mastering:batch-list", slug=source.slug)
    form = IngestOptionsForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pending_all = request.session.get(UPLOADS_SESSION_KEY, {})
        pending_all.pop(token, None)
        request.session[UPLOADS_SESSION_KEY] = pending_all
        claimed = _claim_upload(Path(pending["path"]))
        if claimed is None:  # a second click of "confirm" that raced the first
            messages.info(request, "This upload was already sent; its batch is listed here.")
            return redirect("mastering:batch-list", slug=source.slug)
        try:
            batch = services.receive_stored_table(
                source=source, path=claimed, file_name=pending["file_name"], user=request.user,
                channel=IngestBatch.Channel.UPLOAD, mode=form.cleaned_data["mode"], partial=form.cleaned_data["partial"],
            )
        except ServiceError as exc:
            claimed.unlink(missing_ok=True)
            messages.warning(request, exc.message)
            return redirect("mastering:source-upload", slug=source.slug)
        return redirect(batch.get_absolute_url())
    preview = preview_table(validator=services.source_validator(source), path=Path(pending["path"]), file_name=pending["file_name"])
    return render(request, "mastering/upload_confirm.html", {"source": source, "preview": preview, "form": form, "token": token})


def _claim_upload(path: Path) -> Path | None:
    """Move a pending upload to a name of its own; a rename is atomic, so of two confirmations only one gets the file."""
    claimed = services.new_upload_path()
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return None
    return claimed


def batch_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Every batch a source received, newest first: filter, search, sort; refreshed while one runs."""
    source = get_object_or_404(selectors.list_sources(), slug=slug)
    batches = selectors.list_batches(source=source).defer("problems", "warnings", "timings")
    filterset = SourceBatchFilter(request.GET, queryset=batches)
    page = Paginator(filterset.qs, 30).get_page(request.GET.get("page"))
    context = {
        "source": source, "filter": filterset, "page_obj": page, "batches": page, "query": querystring_without_page(request),
        "running": any(batch.status in (IngestBatch.Status.QUEUED, IngestBatch.Status.RUNNING) for batch in page),
    }
    template = "mastering/partials/_batch_table.html" if is_htmx(request) else "mastering/batch_list.html"
    return render(request, template, context)


def batch_detail(request: HttpRequest, slug: str, batch_id: int) -> HttpResponse:
    """A batch's counts, progress (polled while it runs) and problem report."""
    source = get_object_or_404(Source, slug=slug)
    batch = get_object_or_404(selectors.list_batches(source=source), pk=batch_id)
    template = "mastering/partials/_batch_status.html" if is_htmx(request) else "mastering/batch_detail.html"
    return render(request, template, {"batch": batch, "source": source, "can_resend": services.can_resend(batch)})


@permission_required("accounts.ingest", raise_exception=True)
@require_POST
def batch_resend(request: HttpRequest, slug: str, batch_id: int) -> HttpResponse:
    """Send a rejected batch's table again keeping its good rows; show the new batch."""
    source = get_object_or_404(Source, slug=slug)
    batch = get_object_or_404(selectors.list_batches(source=source), pk=batch_id)
    try:
        new_batch = services.resend_good_rows(batch=batch, user=request.user)
    except ServiceError as exc:
        messages.warning(request, exc.message)
        return redirect(batch.get_absolute_url())
    messages.success(request, f"Batch {batch.pk} sent again keeping its good rows, as batch {new_batch.pk}; "
                              f"its {batch.rejected} rejected row{'s' if batch.rejected != 1 else ''} are listed on batch {batch.pk}.")
    return redirect(new_batch.get_absolute_url())


def record_detail(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """One record: its current values and every earlier version, with what changed and by whom."""
    source = get_object_or_404(Source.objects.prefetch_related("fields"), slug=slug)
    try:
        record = selectors.get_record(source=source, key=key)
    except SourceRecord.DoesNotExist:
        raise Http404(f"No record with key {key!r} in {source.name}.") from None
    columns = [f.name for f in source.fields.all()]
    extra = [name for name in record.data if name not in columns]
    return render(
        request,
        "mastering/record_detail.html",
        {"source": source, "record": record, "fields": [(n, record.data.get(n)) for n in columns + extra],
         "history": selectors.record_history(record=record), "last_seen": selectors.last_seen_batch(record=record),
         "memberships": selectors.record_memberships(record=record)},
    )

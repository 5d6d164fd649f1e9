from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from curation import selectors, services
from curation.filters import LabelFilter
from curation.forms import AdjudicateForm, QueueActionForm
from curation.models import CandidatePair
from curation.presenters import present_pair
from curation.queue_state import QueueState, next_for
from mastering.mapping import projection_for
from mastering.models import EntityType
from mastering.selectors import entity_type_overview, match_threshold_for
from steward.errors import ServiceError
from steward.htmx import is_htmx
from steward.paging import querystring_without_page


def home(request: HttpRequest) -> HttpResponse:
    """Where curators start: each entity type with its queue and model."""
    rows = entity_type_overview()
    for row in rows:
        row["progress"] = selectors.curator_progress(entity_type=row["entity_type"], curator=request.user)
        row["disputed"] = selectors.disputed_pairs(entity_type=row["entity_type"]).count()
    return render(request, "curation/home.html", {"rows": rows})


@permission_required("accounts.label", raise_exception=True)
@require_http_methods(["GET", "POST"])
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    """The labeling page: one pair at a time, answered by button or keyboard, no page reloads."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    if request.method == "POST":
        state = _act(request, entity_type) or next_for(curator=request.user, entity_type=entity_type)
    else:
        # A GET writes nothing: claiming a pair (or starting to prepare some) is a write, so the card asks by POST.
        state = QueueState(None, "loading")
    model = entity_type.active_model
    threshold = match_threshold_for(entity_type=entity_type, model=model) if model is not None else None
    context = {
        "entity_type": entity_type, "state": state,
        "view": present_pair(state.pair, threshold=threshold, viewer=request.user) if state.pair else None,
        "progress": selectors.curator_progress(entity_type=entity_type, curator=request.user),
        "model": model, "can_undo": _can_undo(request.user, entity_type),
        # The model's own estimate when it has one; else the same figures Diagnostics shows, from the labels.
        "label_quality": selectors.quality_on_labels(entity_type=entity_type, model=model)
        if model is not None and model.precision is None else None,
    }
    template = "curation/partials/_pair_card.html" if is_htmx(request) else "curation/queue.html"
    return render(request, template, context)


def _can_undo(user, entity_type: EntityType) -> bool:
    last = selectors.last_label_of(curator=user, entity_type=entity_type)
    return last is not None and user.has_perm("curation.undo_answer", last)


def _act(request: HttpRequest, entity_type: EntityType) -> QueueState | None:
    form = QueueActionForm(request.POST)
    if not form.is_valid():
        messages.warning(request, "That action was incomplete; here is your next pair.")
        return None
    data = form.cleaned_data
    if data["action"] == "poll":
        return None
    try:
        if data["action"] == "undo":
            last = selectors.last_label_of(curator=request.user, entity_type=entity_type)
            pair = services.undo_last_answer(curator=request.user, entity_type=entity_type)
            if last is not None and last.pair_id == pair.pk:
                messages.info(request, f"Took back your answer “{last.get_answer_display()}” on pair {pair.pk}; "
                                       "it is on the card again for a new answer.")
            return QueueState(pair, "pair")
        pair = get_object_or_404(CandidatePair, pk=data["pair"], entity_type=entity_type)
        if data["action"] == "skip":
            services.skip_pair(pair=pair, curator=request.user)
        else:
            services.answer_pair(pair=pair, curator=request.user, answer=data["answer"], seconds_spent=data.get("seconds_spent"))
    except ServiceError as exc:
        messages.warning(request, exc.message)
    return None


def label_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Every label of an entity type, filterable, with CSV download."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    filterset = LabelFilter(request.GET, queryset=selectors.list_labels(entity_type=entity_type))
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    return render(request, "curation/label_list.html", {
        "entity_type": entity_type, "filter": filterset, "page_obj": page, "labels": page,
        "query": querystring_without_page(request), "agreement": selectors.agreement(entity_type=entity_type),
    })


@permission_required("accounts.label", raise_exception=True)
@require_POST
def revoke_label(request: HttpRequest, slug: str, label_id: int) -> HttpResponse:
    """Revoke a label from the list (its curator, or a steward): kept for the record, no longer trained on."""
    label = get_object_or_404(selectors.list_labels(entity_type=get_object_or_404(EntityType, slug=slug)), pk=label_id)
    reason = request.POST.get("reason", "").strip() or "revoked on the label list"
    try:
        services.revoke_label(label=label, by=request.user, reason=reason)
        messages.success(request, f"Label {label.pk} revoked; the next training leaves it out.")
    except ServiceError as exc:
        messages.warning(request, exc.message)
    return redirect("curation:label-list", slug=slug)


@permission_required("accounts.adjudicate", raise_exception=True)
@require_http_methods(["GET", "POST"])
def disputes(request: HttpRequest, slug: str) -> HttpResponse:
    """Pairs whose curators disagree, for a steward to settle."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    if request.method == "POST":
        form = AdjudicateForm(request.POST)
        if form.is_valid():
            pair = get_object_or_404(CandidatePair, pk=form.cleaned_data["pair"], entity_type=entity_type)
            try:
                services.adjudicate_pair(pair=pair, steward=request.user, answer=form.cleaned_data["answer"])
                messages.success(request, f"Pair {pair.pk} settled.")
            except ServiceError as exc:
                messages.warning(request, exc.message)
        return redirect("curation:disputes", slug=slug)
    pairs = list(selectors.disputed_pairs(entity_type=entity_type)[:50])
    projection = projection_for(entity_type)
    return render(request, "curation/disputes.html", {
        "entity_type": entity_type, "views": [present_pair(p, projection) for p in pairs],
        "agreement": selectors.agreement(entity_type=entity_type),
    })

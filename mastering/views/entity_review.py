"""Entity pages beside the entity itself: its edits (one input per edit, as the API takes them), the search for a
move or merge target, its history, and what a run changed."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from mastering import history, selectors
from mastering.edit_inputs import EDIT_INPUTS
from mastering.edit_preview import PREVIEWED, preview_edit
from mastering.filters import EntityFilter
from mastering.models import Entity, EntityType, RunChange
from steward.api.exceptions import first_message
from steward.errors import ServiceError
from steward.paging import querystring_without_page

# Fields of the page's edit forms that are not the edit's: the confirm form leaves them out.
PREVIEW_ONLY_FIELDS = {"csrfmiddlewaretoken", "preview", "q"}

# The form field a chosen search result fills: a move's target, or the entities a merge takes in.
CHOICE_FIELDS = {"target", "others"}
# How many text matches a search ranks: enough to find the right one among common names, bounded for the page.
SEARCH_POOL = 200


@permission_required("accounts.curate", raise_exception=True)
@require_POST
def entity_edit(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """Apply one edit from the entity page (the form's `action` names it), then show the entity it leaves in view."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    entity = get_object_or_404(Entity.objects.select_related("entity_type"), entity_type=entity_type, pk=entity_id)
    destination = entity
    input_class = EDIT_INPUTS.get(request.POST.get("action", ""))
    if input_class is None:
        messages.warning(request, "Unknown action.")
    else:
        payload = input_class.from_form(request.POST, entity=entity)
        if not payload.is_valid():
            messages.warning(request, f"That edit was incomplete: {first_message(payload.errors)}")
        elif request.POST.get("preview") and request.POST.get("action") in PREVIEWED:
            # Step one of two: show what the edit would do (computed, nothing written); its form confirms it.
            try:
                preview = preview_edit(payload, user=request.user)
            except ServiceError as exc:
                messages.warning(request, exc.message)
            else:
                return render(request, "mastering/edit_preview.html", {
                    "entity_type": entity_type, "entity": entity, "preview": preview,
                    "fields": [(name, value) for name, values in request.POST.lists() if name not in PREVIEW_ONLY_FIELDS
                               for value in values],
                })
        else:
            try:
                outcome = payload.apply(user=request.user)
            except ServiceError as exc:
                messages.warning(request, exc.message)
            else:
                messages.success(request, outcome.message)
                destination = outcome.split_into or outcome.entity
    destination = Entity.objects.select_related("entity_type", "retired_into__entity_type").get(pk=destination.pk)
    if destination.retired_at is not None and destination.retired_into_id:
        destination = destination.retired_into
    return redirect(destination.get_absolute_url())


def entity_search(request: HttpRequest, slug: str) -> HttpResponse:
    """Entities matching a search, as choices for a move or merge target (htmx partial)."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    query = request.GET.get("q", "").strip()
    exclude = request.GET.get("exclude")
    field = request.GET.get("field") if request.GET.get("field") in CHOICE_FIELDS else "target"
    results = []
    if len(query) >= 2:
        found = EntityFilter({"q": query}, queryset=selectors.list_entities(entity_type=entity_type)).qs
        this = None
        if exclude:
            try:
                this = Entity.objects.select_related("entity_type").filter(entity_type=entity_type, pk=uuid.UUID(exclude)).first()
            except ValueError:
                pass  # not an entity id: nothing to leave out or rank against
        if this is not None:
            # Rank a bounded set of matches by how alike they are to this entity; each entity once.
            results = selectors.rank_against(entity=this, candidates=found.exclude(pk=this.pk)[:SEARCH_POOL])
        else:
            results = [selectors.RankedEntity(e, None, "") for e in dict.fromkeys(found[:10])]
    return render(request, "mastering/partials/_entity_choices.html", {"results": results, "query": query, "field": field})


def entity_history(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """The entity's timeline, each change with who and why; pick a point to see it as it was then and what changed since."""
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
    return render(request, "mastering/entity_history.html", {
        "entity_type": entity_type, "entity": entity, "timeline": history.timeline(entity), "past": past,
        "past_members": sorted(names.get(r, str(r)) for r in past.members) if past else [],
        "members_in": [names.get(r, str(r)) for r in past.members_in] if past else [],
        "members_out": [names.get(r, str(r)) for r in past.members_out] if past else [],
    })


def run_changes(request: HttpRequest, slug: str) -> HttpResponse:
    """What a run changed across all entities, with counts per kind and a filterable list."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    last = selectors.last_master_job(entity_type=entity_type)
    job_id = request.GET.get("job", "")
    job_id = int(job_id) if job_id.isdigit() else (last.pk if last else None)
    changes, counts = selectors.run_changes(entity_type=entity_type, job_id=job_id, kind=request.GET.get("kind", ""))
    page = Paginator(changes, 50).get_page(request.GET.get("page"))
    return render(request, "mastering/run_changes.html", {
        "entity_type": entity_type, "job_id": job_id, "counts": counts, "page_obj": page,
        "changes": page, "query": querystring_without_page(request), "kinds": RunChange.Kind.choices,
        "runs": selectors.list_jobs().filter(entity_type=entity_type, kind="master", status="done")[:20],
    })

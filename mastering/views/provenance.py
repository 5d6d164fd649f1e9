"""Provenance pages: an entity's, a golden value's, a record's, a batch's and a job's lineage (graph and list),
and "why are these two together?"."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from mastering import selectors
from mastering.models import Attribute, Entity, EntityType, RunChange, Source, SourceRecord
from mastering.provenance import lineage as lineages
from mastering.provenance.pairs import NotMembers, why_together


def _entity_or_redirect(request: HttpRequest, slug: str, entity_id, route: str, *extra):
    """The live entity; a merged id redirects to the entity that took its records (the same page there)."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    try:
        entity, old = selectors.resolve_entity(entity_type=entity_type, entity_id=entity_id)
    except Entity.DoesNotExist as exc:
        raise Http404(str(exc)) from None
    if old is not None:
        messages.info(request, f"Entity {old} was merged into this one; its old id leads here.")
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        return None, redirect(reverse(route, args=[slug, entity.pk, *extra]) + query)
    return entity, None


def _run_parameter(request: HttpRequest) -> tuple[int | None, str]:
    raw = request.GET.get("run", "").strip()
    if not raw:
        return None, ""
    if not raw.isdigit():
        return None, "The run must be a run number, such as 5."
    return int(raw), ""


def entity_lineage(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """Why each member is in the entity, the runs, models, labels and edits behind it, its merged ids and past states."""
    entity, moved = _entity_or_redirect(request, slug, entity_id, "mastering:entity-lineage")
    if moved:
        return moved
    run, problem = _run_parameter(request)
    if problem:
        return render(request, "mastering/lineage/bad_request.html", {"detail": problem}, status=400)
    try:
        lineage = lineages.entity_lineage(entity, run=run)
    except RunChange.DoesNotExist as exc:
        return render(request, "mastering/lineage/bad_request.html", {"detail": str(exc)}, status=400)
    return render(request, "mastering/lineage/entity.html", {"entity_type": entity.entity_type, "entity": entity,
                                                            "lineage": lineage})


def value_provenance(request: HttpRequest, slug: str, entity_id, attribute: str) -> HttpResponse:
    """Where one golden value came from: rule, record version, batch, file row; the values it beat; any override."""
    entity, moved = _entity_or_redirect(request, slug, entity_id, "mastering:value-provenance", attribute)
    if moved:
        return moved
    try:
        lineage, story = lineages.value_lineage(entity, attribute)
    except Attribute.DoesNotExist:
        raise Http404(f"{entity.entity_type.name} has no attribute {attribute!s}.") from None
    return render(request, "mastering/lineage/value.html", {"entity_type": entity.entity_type, "entity": entity,
                                                           "lineage": lineage, "story": story})


def _record_id(raw: str) -> int | None:
    return int(raw) if raw.strip().isdigit() else None


def entity_why_together(request: HttpRequest, slug: str, entity_id) -> HttpResponse:
    """For two members: the model's score, each attribute's part in it, and the chain of scored pairs between them."""
    entity, moved = _entity_or_redirect(request, slug, entity_id, "mastering:entity-why")
    if moved:
        return moved
    members = list(entity.memberships.select_related("record__source").order_by("record_id"))
    context = {"entity_type": entity.entity_type, "entity": entity, "members": members, "together": None,
               "a": request.GET.get("a", ""), "b": request.GET.get("b", "")}
    if "a" not in request.GET and "b" not in request.GET:
        if len(members) >= 2:  # a starting point: the first two members
            context["a"], context["b"] = str(members[0].record_id), str(members[1].record_id)
        return render(request, "mastering/lineage/why.html", context)
    left, right = _record_id(context["a"]), _record_id(context["b"])
    try:
        if left is None or right is None:
            raise NotMembers("Pick two records of this entity (a and b are record numbers).")
        context["together"] = why_together(entity, left, right)
    except NotMembers as exc:
        context["problem"] = str(exc)
        return render(request, "mastering/lineage/why.html", context, status=400)
    return render(request, "mastering/lineage/why.html", context)


def record_lineage(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    """A source record's timeline (versions, file rows, batches, entities) and its lineage graph."""
    source = get_object_or_404(Source, slug=slug)
    try:
        record = selectors.get_record(source=source, key=key)
    except SourceRecord.DoesNotExist:
        raise Http404(f"{source.name} has no record {key}.") from None
    return render(request, "mastering/lineage/record.html", {"source": source, "record": record,
                                                            "lineage": lineages.record_lineage(record)})


def batch_lineage(request: HttpRequest, slug: str, batch_id: int) -> HttpResponse:
    """A batch: the file it read, the records it wrote (the first ones drawn) and the runs that read them since."""
    source = get_object_or_404(Source, slug=slug)
    batch = get_object_or_404(selectors.list_batches(source=source).defer(*selectors.BATCH_HEAVY_FIELDS), pk=batch_id)
    return render(request, "mastering/lineage/batch.html", {"source": source, "batch": batch,
                                                           "lineage": lineages.batch_lineage(batch)})


def job_lineage(request: HttpRequest, job_id: int) -> HttpResponse:
    """A run as inputs → run → outputs."""
    job = get_object_or_404(selectors.list_jobs(), pk=job_id)
    return render(request, "mastering/lineage/job.html", {"job": job, "lineage": lineages.job_lineage(job)})


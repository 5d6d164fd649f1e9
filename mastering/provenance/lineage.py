"""The lineage of an entity, a golden value, a source record, a batch or a job: a graph plus the facts beside it.

Each builder reads a fixed number of queries however many members, versions or records there are (no N+1);
tests/mastering/test_provenance_pages.py pins the entity's.
"""

from dataclasses import dataclass, field

from django.urls import reverse

from mastering import history, selectors
from mastering.models import (
    BatchSighting,
    Entity,
    IngestBatch,
    Job,
    Membership,
    RunChange,
    SourceRecord,
    SourceRecordVersion,
    ValueOverride,
)
from mastering.provenance.graph import Graph, activities_touching, batch_node, job_node, model_node, record_node
from mastering.provenance.members import Reason, membership_reasons
from mastering.provenance.values import ValueProvenance, value_provenance

SHOWN_RECORDS = 50  # a batch's or run's records drawn one by one; the rest are counted and linked


@dataclass
class Lineage:
    graph: Graph
    title: str
    facts: dict = field(default_factory=dict)
    activity_counts: dict[str, int] = field(default_factory=dict)
    activities: list = field(default_factory=list)


def entity_url(entity: Entity) -> str:
    return reverse("mastering:entity-detail", args=[entity.entity_type.slug, entity.pk])


def _memberships(entity: Entity):
    return list(Membership.objects.filter(entity=entity).select_related("record__source", "record__changed_batch", "job__model",
                                                                      "edit__user")
                .defer(*(f"record__changed_batch__{n}" for n in selectors.BATCH_HEAVY_FIELDS),
                       *(f"job__{n}" for n in selectors.JOB_HEAVY_FIELDS),
                       *(f"job__model__{n}" for n in selectors.MODEL_HEAVY_FIELDS))
                .order_by("record_id"))


def _before_last_run(changes: list[RunChange]) -> RunChange | None:
    """The change just before the entity's latest run (newest-first timeline), to see it as it was then."""
    for index, change in enumerate(changes):
        if change.job_id and change.job and change.job.kind == Job.Kind.MASTER:
            return changes[index + 1] if index + 1 < len(changes) else None
    return None


def entity_lineage(entity: Entity, *, run: int | None = None) -> Lineage:
    """Members and why each is there, the batches that wrote them, the runs and models that placed them, the labels
    behind those models, merged ids, overrides, past states, and the activities that touched it."""
    slug = entity.entity_type.slug
    graph = Graph()
    graph.focus = graph.node(f"entity-{entity.pk}", "entity", str(entity), entity_url(entity),
                             f"{entity.size} record(s)")
    memberships = _memberships(entity)
    past = None
    if run is not None:
        change = RunChange.objects.filter(entity_type=entity.entity_type, entity_id=entity.pk, job_id=run).order_by("-id").first()
        if change is None:
            raise RunChange.DoesNotExist(f"Run #{run} did not change this entity.")
        past = history.state_after(entity, change.pk)
    reasons = membership_reasons(entity, memberships=memberships, with_partners=run is None)
    for m in memberships:
        if past is not None and m.record_id not in past.members:
            continue
        record = record_node(graph, m.record)
        reason: Reason = reasons[m.record_id]
        graph.edge(record, graph.focus, reason.text)
        batch = m.record.changed_batch
        if batch is not None:
            graph.edge(batch_node(graph, batch, m.record.source.slug), record, f"wrote v{m.record.version}")
        if m.job is not None:
            job = job_node(graph, m.job)
            graph.edge(job, graph.focus, "placed members")
            if m.job.model is not None:
                graph.edge(model_node(graph, m.job.model, slug), job, "scored pairs")
        if m.edit is not None:
            edit = graph.node(f"edit-{m.edit.pk}", "edit", f"{m.edit.get_kind_display()} by {reason.by}",
                              reverse("mastering:entity-history", args=[slug, entity.pk]), m.edit.reason)
            graph.edge(edit, graph.focus, "changed members")
    absorbed = list(Entity.objects.filter(retired_into=entity).only("pk", "retired_at", "entity_type_id"))
    for old in absorbed:
        graph.edge(graph.node(f"entity-{old.pk}", "retired", f"id {str(old.pk)[:8]} (merged)",
                              reverse("mastering:entity-detail", args=[slug, old.pk]),
                              f"retired {old.retired_at:%Y-%m-%d %H:%M}" if old.retired_at else ""),
                   graph.focus, "merged into")
    overrides = list(ValueOverride.objects.filter(entity=entity, removed_at__isnull=True).select_related("attribute", "user"))
    for override in overrides:
        graph.edge(graph.node(f"override-{override.pk}", "override",
                              f"{override.attribute.name} overridden by {override.user.username if override.user else 'a deleted user'}",
                              reverse("mastering:value-provenance", args=[slug, entity.pk, override.attribute.name]),
                              override.reason), graph.focus, "sets a value")
    changes = history.timeline(entity, limit=30)
    before = _before_last_run(changes)
    counts, latest = activities_touching([entity])
    models = {}
    for m in memberships:
        if m.job is not None and m.job.model is not None:
            models[m.job.model.pk] = m.job.model
    members = [{"membership": m, "reason": reasons[m.record_id]} for m in memberships
               if past is None or m.record_id in past.members]
    return Lineage(graph, f"Lineage of {entity}", {
        "entity": entity, "members": members, "models": sorted(models.values(), key=lambda mm: -mm.version),
        "absorbed": absorbed, "overrides": overrides, "changes": changes, "before_last_run": before, "past": past,
        "run": run,
    }, counts, latest)


def value_lineage(entity: Entity, attribute: str) -> tuple[Lineage, ValueProvenance]:
    """A golden value's story as a graph: file row → record version → rule → value, and the entity around it."""
    story = value_provenance(entity, attribute)
    slug = entity.entity_type.slug
    graph = Graph()
    value_text = story.value if story.value not in (None, "") else "(no value)"
    graph.focus = graph.node("value", "value", f"{story.attribute.name} = {value_text}",
                             reverse("mastering:value-provenance", args=[slug, entity.pk, story.attribute.name]),
                             f"rule: {story.rule}")
    entity_id = graph.node(f"entity-{entity.pk}", "entity", str(entity), entity_url(entity))
    graph.edge(graph.focus, entity_id, "golden value of")
    if story.origin is not None:
        origin = story.origin
        record = record_node(graph, origin.record)
        version = graph.node(f"version-{origin.record.pk}-{origin.version}", "version",
                             f"{origin.record.source.slug}:{origin.record.key} v{origin.version}",
                             reverse("mastering:record-detail", args=[origin.record.source.slug, origin.record.key])
                             + f"#version-{origin.version}",
                             f"{origin.at:%Y-%m-%d %H:%M}" if origin.at else "")
        graph.edge(version, graph.focus, f"chosen by {story.rule}")
        graph.edge(version, record, "a version of")
        if origin.batch is not None:
            batch = batch_node(graph, origin.batch, origin.record.source.slug)
            if origin.file_row:
                row = graph.node(f"row-{origin.batch.pk}-{origin.file_row}", "file",
                                 f"{origin.batch.file_name or 'table'} row {origin.file_row}",
                                 reverse("mastering:record-detail", args=[origin.record.source.slug, origin.record.key])
                                 + f"#version-{origin.version}")
                graph.edge(batch, row, "contained")
                graph.edge(row, version, "wrote")
            else:
                graph.edge(batch, version, "wrote")
    if story.override is not None:
        override = story.override
        graph.edge(graph.node(f"override-{override.pk}", "override",
                              f"override by {override.user.username if override.user else 'a deleted user'}",
                              reverse("mastering:value-provenance", args=[slug, entity.pk, story.attribute.name]),
                              override.reason), graph.focus, "set")
        for number in story.issue_ids:
            graph.edge(graph.node(f"issue-{number}", "issue", f"issue #{number}", _issue_url(number)),
                       f"override-{override.pk}", "resolved by")
    counts, latest = activities_touching([entity] + ([story.override] if story.override else []))
    return Lineage(graph, f"Where {story.attribute.name} of {entity} came from", {"story": story}, counts, latest), story


def _issue_url(number: int) -> str:
    from django.urls import NoReverseMatch

    try:
        return reverse("feedback:issue-detail", args=[number])
    except NoReverseMatch:
        return ""


def record_timeline(record: SourceRecord) -> list[dict]:
    """The record's versions (batch, file row, time), the batches that re-sent it unchanged, and the entities it was
    in, oldest first."""
    events = []
    for old in (SourceRecordVersion.objects.filter(record=record).select_related("batch")
                .defer(*(f"batch__{n}" for n in selectors.BATCH_HEAVY_FIELDS)).order_by("version")):
        events.append({"at": old.created_at, "kind": "version", "version": old.version, "batch": old.batch,
                       "row": old.file_row, "retired": old.retired})
    events.append({"at": record.updated_at, "kind": "version", "version": record.version, "batch": record.changed_batch,
                   "row": record.file_row, "retired": record.retired, "current": True})
    sightings = (IngestBatch.objects.filter(pk__in=BatchSighting.objects.filter(
        batch__source_id=record.source_id, first_record_id__lte=record.pk, last_record_id__gte=record.pk).values("batch_id"))
        .defer(*selectors.BATCH_HEAVY_FIELDS))
    for batch in sightings:
        events.append({"at": batch.created_at, "kind": "seen", "batch": batch})
    for change in _membership_changes(record):
        events.append({"at": change.created_at, "kind": "joined" if record.pk in change.added else "left",
                       "entity_id": change.entity_id, "change": change, "slug": change.entity_type.slug})
    return sorted(events, key=lambda e: e["at"])


def _membership_changes(record: SourceRecord) -> list[RunChange]:
    """Run changes that added the record to an entity or removed it from one."""
    from django.db import connection
    from django.db.models import Q

    from mastering.models import EntityType

    types = EntityType.objects.filter(attributes__mappings__source_id=record.source_id).distinct()
    changes = RunChange.objects.filter(entity_type__in=types).select_related("entity_type", "job", "edit__user", "user")
    if connection.vendor == "postgresql":
        return list(changes.filter(Q(added__contains=[record.pk]) | Q(removed__contains=[record.pk])).order_by("id"))
    # SQLite (the embedded default) cannot ask whether a JSON list holds a value: filter here.
    return [c for c in changes.order_by("id").iterator(chunk_size=2000) if record.pk in c.added or record.pk in c.removed]


def record_lineage(record: SourceRecord) -> Lineage:
    """A source record: the batches and file rows of its versions, the entity it is in and why, and the run that put it there."""
    graph = Graph()
    graph.focus = record_node(graph, record)
    timeline = record_timeline(record)
    for event in timeline:
        if event["kind"] == "version" and event["batch"] is not None:
            label = f"wrote v{event['version']}" + (f" (row {event['row']})" if event.get("row") else "")
            if event.get("retired"):
                label = f"retired it (v{event['version']})"
            graph.edge(batch_node(graph, event["batch"], record.source.slug), graph.focus, label)
        elif event["kind"] == "seen":
            graph.edge(batch_node(graph, event["batch"], record.source.slug), graph.focus, "sent it unchanged")
    memberships = list(Membership.objects.filter(record=record).select_related("entity__entity_type", "job__model", "edit__user",
                                                                              "record__source"))
    current = []
    for m in memberships:
        reason = membership_reasons(m.entity, memberships=[m])[record.pk]
        node = graph.node(f"entity-{m.entity_id}", "entity", str(m.entity), entity_url(m.entity))
        graph.edge(graph.focus, node, reason.text)
        if m.job is not None:
            graph.edge(job_node(graph, m.job), node, "placed it")
        current.append({"membership": m, "reason": reason})
    counts, latest = activities_touching([record])
    return Lineage(graph, f"Lineage of {record}", {"record": record, "timeline": timeline, "memberships": current},
                   counts, latest)


def batch_lineage(batch: IngestBatch) -> Lineage:
    """A batch: its source and file, its ingest job, the records it wrote (the first few drawn), and the runs since."""
    graph = Graph()
    slug = batch.source.slug
    graph.focus = batch_node(graph, batch, slug)
    source = graph.node(f"source-{batch.source_id}", "source", batch.source.name, batch.source.get_absolute_url())
    graph.edge(graph.focus, source, "loaded into")
    if batch.job_id:
        graph.edge(graph.focus, job_node(graph, batch.job), "ingested by")
    written = SourceRecord.objects.filter(changed_batch=batch).select_related("source").order_by("file_row", "pk")
    total = written.count()
    for record in written[:SHOWN_RECORDS]:
        graph.edge(graph.focus, record_node(graph, record),
                   f"row {record.file_row}" if record.file_row else "retired it" if record.retired else "wrote")
    old_versions = SourceRecordVersion.objects.filter(batch=batch).count()
    later_runs = list(Job.objects.filter(kind=Job.Kind.MASTER, status=Job.Status.DONE,
                                         entity_type__attributes__mappings__source_id=batch.source_id,
                                         created_at__gte=batch.created_at).distinct()
                      .select_related("entity_type", "model").defer(*selectors.JOB_HEAVY_FIELDS).order_by("pk")[:10])
    for job in later_runs:
        graph.edge(source, job_node(graph, job), "read by")
    counts, latest = activities_touching([batch])
    return Lineage(graph, f"Lineage of {batch}", {"batch": batch, "records_now": total, "shown": min(total, SHOWN_RECORDS),
                                                  "superseded": old_versions, "later_runs": later_runs}, counts, latest)


def job_lineage(job: Job) -> Lineage:
    """A run as inputs → run → outputs: the model, sources and labels it read; the entities, model or records it wrote."""
    graph = Graph()
    graph.focus = job_node(graph, job)
    facts: dict = {"job": job}
    if job.entity_type_id:
        slug = job.entity_type.slug
        kind_node = graph.node(f"entity_type-{job.entity_type_id}", "entity_type", job.entity_type.name,
                               job.entity_type.get_absolute_url())
        if job.model is not None and job.kind != Job.Kind.TRAIN:
            graph.edge(model_node(graph, job.model, slug), graph.focus, "scored with")
        for source in selectors.mapped_sources(entity_type=job.entity_type):
            graph.edge(graph.node(f"source-{source.pk}", "source", source.name, source.get_absolute_url()),
                       graph.focus, "records read")
        if job.kind == Job.Kind.TRAIN:
            from mastering.models import MatchModel

            made = MatchModel.objects.filter(job=job).defer(*selectors.MODEL_HEAVY_FIELDS).first()
            if made is not None:
                graph.edge(graph.focus, model_node(graph, made, slug), "made")
                facts["made_model"] = made
        else:
            _, kinds = selectors.run_changes(entity_type=job.entity_type, job_id=job.pk)
            facts["changes"] = kinds
            labels = dict(RunChange.Kind.choices)
            for kind, n in sorted(kinds.items()):
                graph.edge(graph.focus, graph.node(f"changes-{kind}", "changes", f"{n} {labels.get(kind, kind).lower()}",
                                                   reverse("mastering:run-changes", args=[slug]) + f"?job={job.pk}&kind={kind}"),
                           "wrote")
        graph.edge(graph.focus, kind_node, "for")
    if job.source_id:
        source = graph.node(f"source-{job.source_id}", "source", job.source.name, job.source.get_absolute_url())
        batch = getattr(job, "batch", None)
        if batch is not None:
            graph.edge(batch_node(graph, batch, job.source.slug), graph.focus, "read")
        graph.edge(graph.focus, source, "wrote records into")
    counts, latest = activities_touching([job])
    return Lineage(graph, f"Lineage of {job}", facts, counts, latest)

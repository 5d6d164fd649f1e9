"""A job's run in plain facts (names, ids, counts) for lineage to express as OpenLineage events.

Datasets are named in the OPENLINEAGE_NAMESPACE: a source's records (`sources/<slug>/records`), an uploaded table
(`sources/<slug>/batches/<id>/<file>`), an entity type's labels, model versions, labeling queue and golden records
(`entity_types/<slug>/...`).
"""

from django.db import transaction

from lineage import selectors as lineage_selectors
from lineage.models import Activity, RunEvent
from lineage.run_events import DatasetRef, LabelFacts, ModelFacts, RunFacts, run_id_for
from lineage.services import record_activity, record_run_event
from mastering.models import IngestBatch, Job, MatchModel, Source

ACTIVITY_KIND = {
    Job.Kind.INGEST: Activity.Kind.INGEST,
    Job.Kind.TRAIN: Activity.Kind.TRAIN,
    Job.Kind.MASTER: Activity.Kind.MASTER,
    Job.Kind.GOLDEN: Activity.Kind.MASTER,
    Job.Kind.PREPARE_QUEUE: Activity.Kind.TASK,
}


def run_id(job: Job):
    return run_id_for(kind="job", pk=job.pk, created_at=job.created_at)


def _records(source: Source, rows: int | None = None) -> DatasetRef:
    return DatasetRef(f"sources/{source.slug}/records", rows=rows)


def _entity_type_data(job: Job, what: str, **kwargs) -> DatasetRef:
    return DatasetRef(f"entity_types/{job.entity_type.slug}/{what}", **kwargs)


def _mapped_sources(job: Job) -> list[Source]:
    return list(Source.objects.filter(mappings__attribute__entity_type_id=job.entity_type_id).distinct().order_by("slug"))


def _model_facts(job: Job, model: MatchModel | None, threshold: float | None = None) -> ModelFacts | None:
    if model is None:
        return None
    return ModelFacts(entity_type=job.entity_type.slug, version=model.version, label_count=model.label_count,
                      precision=model.precision, recall=model.recall, threshold=threshold)


def _datasets(job: Job, counts: dict, model: MatchModel | None) -> tuple[tuple, tuple]:
    if job.kind == Job.Kind.INGEST:
        batch = IngestBatch.objects.filter(job=job).only("pk", "file_name", "received").first()
        table = (DatasetRef(f"sources/{job.source.slug}/batches/{batch.pk}/{batch.file_name or 'table'}",
                            rows=counts.get("received")),) if batch else ()
        written = sum(counts.get(name, 0) or 0 for name in ("created", "updated", "retired")) if counts else None
        return table, (_records(job.source, rows=written),)
    sources = tuple(_records(source) for source in _mapped_sources(job))
    version = str(model.version) if model is not None else None
    if job.kind == Job.Kind.TRAIN:
        labels = _entity_type_data(job, "labels", rows=model.label_count if model else None)
        return (labels, *sources), (_entity_type_data(job, "models", version=version),)
    if job.kind == Job.Kind.MASTER:
        used = (_entity_type_data(job, "models", version=version),) if model is not None else ()
        return (*sources, *used), (_entity_type_data(job, "golden_records", rows=counts.get("entities")),)
    if job.kind == Job.Kind.GOLDEN:
        return sources, (_entity_type_data(job, "golden_records", rows=counts.get("values_changed")),)
    return sources, (_entity_type_data(job, "queue", rows=counts.get("added")),)


def run_facts(job: Job | None, *, counts: dict | None = None, model: MatchModel | None = None,
              error: str = "") -> RunFacts | None:
    """The facts of a job's run for its OpenLineage events; None for work that ran outside a job."""
    if job is None:
        return None
    counts = counts or {}
    model = model if model is not None else (job.model if job.model_id else None)
    inputs, outputs = _datasets(job, counts, model)
    owner = job.entity_type.slug if job.entity_type_id else job.source.slug
    labels = None
    if job.kind == Job.Kind.TRAIN and model is not None:
        labels = LabelFacts(count=model.label_count, match=model.match_count, distinct=model.distinct_count,
                            ids=tuple(model.label_ids))
    return RunFacts(
        run_id=run_id(job), job_name=f"{job.kind}.{owner}", kind=job.kind, steward_job_id=job.pk,
        entity_type=job.entity_type.slug if job.entity_type_id else None,
        source=job.source.slug if job.source_id else None, inputs=inputs, outputs=outputs, counts=counts,
        model=_model_facts(job, model, counts.get("threshold")) if job.kind != Job.Kind.INGEST else None,
        labels=labels, error=error,
    )


def record_start(job: Job) -> None:
    """The run's START event, as the job begins to run."""
    record_run_event(facts=run_facts(job), state=RunEvent.EventType.START, event_time=job.started_at)


@transaction.atomic(savepoint=False)
def record_end(job: Job, *, counts: dict | None = None, error: str = "", cancelled: bool = False,
               failed: bool = False) -> None:
    """The activity and OpenLineage ending of a run whose own service wrote none (a failure, a cancel, a queue refill)."""
    if lineage_selectors.run_has_ended(run_id(job)):
        return  # its runner recorded the run's activity and ending (then, say, the sweep took it for dead)
    if not failed and not cancelled:
        facts = run_facts(job, counts=counts)
        if not lineage_selectors.run_is_open(facts.run_id):
            return  # work run outside run_job (a test calling a runner): not a tracked run
        summary, ends = f"{job} for {job.entity_type or job.source} done", RunEvent.EventType.COMPLETE
    else:
        facts = run_facts(job, counts=job.counts, error=error or job.error)
        what = "cancelled" if cancelled else "failed"
        summary = f"{job} for {job.entity_type or job.source} {what}" + (f": {facts.error}" if facts.error else "")
        ends = RunEvent.EventType.ABORT if cancelled else RunEvent.EventType.FAIL
    record_activity(kind=ACTIVITY_KIND.get(job.kind, Activity.Kind.TASK), actor=job, summary=summary,
                    parameters={"job": job.pk, "status": "cancelled" if cancelled else "failed" if failed else "done",
                                "error": facts.error, "counts": facts.counts},
                    inputs=[job.entity_type or job.source], outputs=[job], run=facts, run_ends=ends)

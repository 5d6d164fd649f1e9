"""A job's run as an OpenLineage run event, built from plain data with openlineage-python's typed classes.

The apps that run jobs (mastering, curation) describe a run with RunFacts: names, ids and counts, no models of
theirs, since lineage is the lowest app and imports none of them.
"""

import uuid
from importlib import metadata
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState, set_producer
from openlineage.client.facet_v2 import (
    dataset_version_dataset,
    error_message_run,
    input_statistics_input_dataset,
    job_type_job,
    output_statistics_output_dataset,
    processing_engine_run,
)
from openlineage.client.serde import Serde

from lineage import facets

# Labels listed by id in a training run's facet up to this many; past it only their counts are given.
MAX_LISTED_LABELS = 1000


@dataclass(frozen=True)
class DatasetRef:
    """A dataset a run read or wrote: a name in the Steward namespace, what of it was read or written, its version."""

    name: str
    rows: int | None = None
    version: str | None = None


@dataclass(frozen=True)
class ModelFacts:
    entity_type: str
    version: int
    label_count: int | None = None
    precision: float | None = None
    recall: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class LabelFacts:
    count: int
    match: int
    distinct: int
    ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunFacts:
    """Everything an event says about one run of a job, in plain data."""

    run_id: uuid.UUID
    job_name: str
    kind: str
    steward_job_id: int | None = None
    entity_type: str | None = None
    source: str | None = None
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    counts: dict[str, float] = field(default_factory=dict)
    model: ModelFacts | None = None
    labels: LabelFacts | None = None
    error: str = ""


def run_id_for(*, kind: str, pk: int, created_at: datetime) -> uuid.UUID:
    """A run's stable id: the same for every event of the run, different for a job of another database."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"steward:{settings.OPENLINEAGE_NAMESPACE}:{kind}:{pk}:{created_at.isoformat()}")


def _steward_version() -> str:
    try:
        return metadata.version("steward")
    except metadata.PackageNotFoundError:  # a checkout run without installing it
        return "unknown"


def _run_facets(facts: RunFacts, state: RunState) -> dict:
    run_facets: dict = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=_steward_version(), name="Steward", openlineageAdapterVersion=_client_version()),
    }
    counts = {name: value for name, value in facts.counts.items()
              if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if counts:
        run_facets["steward_counts"] = facets.StewardCountsRunFacet(counts=counts)
    if facts.model is not None:
        m = facts.model
        run_facets["steward_model"] = facets.StewardMatchModelRunFacet(
            entityType=m.entity_type, version=m.version, labelCount=m.label_count, precision=m.precision,
            recall=m.recall, threshold=m.threshold)
    if facts.labels is not None:
        ids = list(facts.labels.ids) if len(facts.labels.ids) <= MAX_LISTED_LABELS else None
        run_facets["steward_labels"] = facets.StewardLabelsRunFacet(
            labelCount=facts.labels.count, matchCount=facts.labels.match, distinctCount=facts.labels.distinct,
            labelIds=ids)
    if state in (RunState.FAIL, RunState.ABORT) and facts.error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(message=facts.error,
                                                                             programmingLanguage="PYTHON")
    return run_facets


def _client_version() -> str:
    from openlineage.client.constants import __version__ as version

    return version


def _dataset_facets(ref: DatasetRef) -> dict:
    return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=ref.version)} if ref.version else {}


def build_run_event(facts: RunFacts, *, state: RunState, event_time: datetime) -> dict:
    """The OpenLineage JSON of one event of the run (START, COMPLETE, FAIL or ABORT)."""
    namespace = settings.OPENLINEAGE_NAMESPACE
    set_producer(settings.OPENLINEAGE_PRODUCER)  # the facets' _producer: Steward, not the client library
    job_facets = {
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="STEWARD", jobType=facts.kind.upper()),
        "steward": facets.StewardJobFacet(kind=facts.kind, entityType=facts.entity_type, source=facts.source,
                                          stewardJobId=facts.steward_job_id),
    }
    ended = state is not RunState.START
    inputs = [
        InputDataset(namespace=namespace, name=ref.name, facets=_dataset_facets(ref),
                     inputFacets={"inputStatistics": input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                         rowCount=ref.rows)} if ended and ref.rows is not None else {})
        for ref in facts.inputs
    ]
    outputs = [
        OutputDataset(namespace=namespace, name=ref.name, facets=_dataset_facets(ref),
                      outputFacets={"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                          rowCount=ref.rows)} if ended and ref.rows is not None else {})
        for ref in facts.outputs
    ]
    event = RunEvent(
        eventType=state,
        eventTime=event_time.isoformat(),
        run=Run(runId=str(facts.run_id), facets=_run_facets(facts, state)),
        job=Job(namespace=namespace, name=facts.job_name, facets=job_facets),
        inputs=inputs,
        outputs=outputs,
        producer=settings.OPENLINEAGE_PRODUCER,
    )
    return Serde.to_dict(event)

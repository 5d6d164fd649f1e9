"""Every job's run as OpenLineage events: one START and exactly one ending, with datasets and facets."""

import io
import uuid

import pytest
from jsonschema import ValidationError

from lineage.models import Activity, RunEvent
from lineage.run_events import RunFacts, build_run_event
from lineage.services import record_run_event
from mastering import services
from mastering.models import IngestBatch, Job
from mastering.services import jobs as job_services
from mastering.services import run_lineage
from tests.factories import source_with_fields
from tests.lineage.conftest import run
from tests.lineage.schema_check import validate_event

pytestmark = pytest.mark.django_db


def events_of(job: Job) -> list[RunEvent]:
    return list(RunEvent.objects.filter(run_id=run_lineage.run_id(job)).order_by("event_time", "id"))


def facets(document: dict) -> dict:
    return document["run"]["facets"]


def test_ingest_train_and_master_each_start_and_complete_once(mastered):
    entity_type, source, train, master = mastered
    ingest = Job.objects.get(kind=Job.Kind.INGEST, source=source)
    for job, name in ((ingest, f"ingest.{source.slug}"), (train, f"train.{entity_type.slug}"),
                      (master, f"master.{entity_type.slug}")):
        events = events_of(job)
        assert [e.event_type for e in events] == ["START", "COMPLETE"], name
        assert {e.job_name for e in events} == {name}
        assert {e.document["run"]["runId"] for e in events} == {str(run_lineage.run_id(job))}
        assert all(e.document["job"]["namespace"] == "steward" for e in events)
    # The events of the suite's other runs are valid too (the session check), and these were stored with their runs.
    assert RunEvent.objects.count() == 6


def test_master_complete_names_sources_model_and_golden_records_with_counts(mastered):
    entity_type, source, train, master = mastered
    complete = events_of(master)[1]
    document = complete.document
    assert [(d["name"], d["facets"].get("version", {}).get("datasetVersion")) for d in document["inputs"]] == [
        (f"sources/{source.slug}/records", None), (f"entity_types/{entity_type.slug}/models", "1")]
    [golden] = document["outputs"]
    assert golden["name"] == f"entity_types/{entity_type.slug}/golden_records"
    assert golden["outputFacets"]["outputStatistics"]["rowCount"] == master.counts["entities"]
    model = facets(document)["steward_model"]
    assert (model["entityType"], model["version"], model["threshold"]) == (entity_type.slug, 1, master.counts["threshold"])
    assert facets(document)["steward_counts"]["counts"]["entities"] == master.counts["entities"]
    # Written with the run's activity, in the same transaction.
    assert complete.activity.kind == Activity.Kind.MASTER and complete.activity.actor == master


def test_train_complete_says_which_labels_taught_the_model(mastered):
    entity_type, _, train, _ = mastered
    document = events_of(train)[1].document
    labels = facets(document)["steward_labels"]
    assert (labels["labelCount"], labels["matchCount"], labels["distinctCount"]) == (8, 4, 4)
    assert len(labels["labelIds"]) == 8
    assert document["outputs"][0]["name"] == f"entity_types/{entity_type.slug}/models"
    assert document["outputs"][0]["facets"]["version"]["datasetVersion"] == "1"
    assert document["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 8


def test_ingest_complete_reads_the_file_and_writes_the_source_records(ingested):
    _, source = ingested
    job = Job.objects.get(kind=Job.Kind.INGEST, source=source)
    batch = IngestBatch.objects.get(job=job)
    start, complete = events_of(job)
    assert start.document["inputs"][0]["name"] == f"sources/{source.slug}/batches/{batch.pk}/people.csv"
    assert not start.document["inputs"][0]["inputFacets"]  # counts are known at the end, not the start
    assert complete.document["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == batch.received
    assert complete.document["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == batch.created
    assert complete.activity.kind == Activity.Kind.INGEST


def test_a_rejected_table_fails_its_run_with_the_reason_and_one_activity(db):
    source = source_with_fields("crm", key="id", id="string", age="integer")
    batch = services.receive_table(source=source, stream=io.BytesIO(b"id,age\n1,old\n"), file_name="bad.csv", user=None,
                                   channel=IngestBatch.Channel.API, background=False)
    assert batch.status == IngestBatch.Status.REJECTED
    start, fail = events_of(batch.job)
    assert (start.event_type, fail.event_type) == ("START", "FAIL")
    assert facets(fail.document)["errorMessage"]["message"] == "The table was rejected: 1 problem."
    assert Activity.objects.filter(kind=Activity.Kind.INGEST).count() == 1


def test_a_failing_job_ends_its_run_with_fail_and_an_activity(labelled, django_capture_on_commit_callbacks, monkeypatch):
    entity_type, _ = labelled

    def broken(job, progress):
        raise RuntimeError("disk full")

    monkeypatch.setitem(job_services._RUNNERS, Job.Kind.TRAIN, broken)
    job = run(Job.Kind.TRAIN, entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    start, fail = events_of(job)
    assert fail.event_type == "FAIL" and facets(fail.document)["errorMessage"]["message"] == "RuntimeError: disk full"
    activity = Activity.objects.get(kind=Activity.Kind.TRAIN)
    assert activity == fail.activity and activity.parameters["status"] == "failed"
    assert "RuntimeError: disk full" in activity.summary


def test_a_job_cancelled_while_queued_has_an_activity_but_no_run_events(labelled, curator):
    entity_type, _ = labelled
    job = services.start_job(kind=Job.Kind.MASTER, entity_type=entity_type, background=False)
    services.cancel_job(job=job, user=curator)
    assert not events_of(job)  # it never ran: no START, so no ABORT either
    assert Activity.objects.get(kind=Activity.Kind.MASTER).parameters["status"] == "cancelled"


def test_a_running_job_cancelled_aborts_its_run(labelled, curator, monkeypatch):
    entity_type, _ = labelled

    def cancel_midway(job, progress):
        services.cancel_job(job=job, user=curator)  # a working job is asked to stop; it stops at its checkpoint
        progress.check_cancelled()
        return {}

    monkeypatch.setitem(job_services._RUNNERS, Job.Kind.TRAIN, cancel_midway)
    job = services.start_job(kind=Job.Kind.TRAIN, entity_type=entity_type, background=False)
    job = services.run_job(job_id=job.pk)
    assert job.status == Job.Status.CANCELLED
    assert [e.event_type for e in events_of(job)] == ["START", "ABORT"]


def test_a_run_ends_once_whoever_ends_it(mastered):
    _, _, _, master = mastered
    # The sweep taking the finished run for dead, or a second ending, writes no second ending.
    Job.objects.filter(pk=master.pk).update(status=Job.Status.RUNNING)
    assert job_services.fail_job(master, error="stale")
    assert [e.event_type for e in events_of(master)] == ["START", "COMPLETE"]
    assert record_run_event(facts=run_lineage.run_facts(master), state="FAIL") is None


def test_the_database_refuses_a_second_ending_for_a_run(db):
    from django.db import IntegrityError, transaction

    run_id = uuid.uuid4()
    facts = RunFacts(run_id=run_id, job_name="master.x", kind="master")
    record_run_event(facts=facts, state="START")
    record_run_event(facts=facts, state="COMPLETE")
    document = RunEvent.objects.get(run_id=run_id, event_type="COMPLETE").document
    with pytest.raises(IntegrityError), transaction.atomic():
        RunEvent.objects.create(run_id=run_id, event_type="FAIL", job_namespace="steward", job_name="master.x",
                                event_time=RunEvent.objects.first().event_time, document=document)


def test_an_ending_for_a_run_that_never_started_is_not_written(db):
    facts = RunFacts(run_id=uuid.uuid4(), job_name="master.x", kind="master")
    assert record_run_event(facts=facts, state="COMPLETE") is None
    assert not RunEvent.objects.exists()


def test_only_the_four_run_states_are_recorded(db):
    facts = RunFacts(run_id=uuid.uuid4(), job_name="master.x", kind="master")
    with pytest.raises(ValueError, match="START, COMPLETE, FAIL or ABORT"):
        record_run_event(facts=facts, state="RUNNING")


def test_the_namespace_comes_from_the_setting(settings, ingested):
    settings.OPENLINEAGE_NAMESPACE = "acme-prod"
    facts = RunFacts(run_id=uuid.uuid4(), job_name="master.x", kind="master")
    event = record_run_event(facts=facts, state="START")
    assert event.job_namespace == event.document["job"]["namespace"] == "acme-prod"


# The schema check is only worth its name if it can fail.

def valid_document() -> dict:
    from django.utils import timezone

    return build_run_event(RunFacts(run_id=uuid.uuid4(), job_name="master.x", kind="master", counts={"entities": 3}),
                           state="START", event_time=timezone.now())


def test_the_schema_check_accepts_a_built_event():
    validate_event(valid_document())


@pytest.mark.parametrize("spoil, message", [
    (lambda d: d["run"].pop("runId"), "'runId' is a required property"),
    (lambda d: d.update(eventType="DONE"), "'DONE' is not one of"),
    (lambda d: d["run"].update(runId="not-a-uuid"), "is not a 'uuid'"),
    (lambda d: d.update(eventTime="yesterday"), "is not a 'date-time'"),
    (lambda d: d["job"].pop("namespace"), "'namespace' is a required property"),
    (lambda d: d["run"]["facets"]["steward_counts"].update(counts={"entities": "three"}), "'three' is not of type 'number'"),
    (lambda d: d["job"]["facets"]["jobType"].pop("integration"), "'integration' is a required property"),
])
def test_the_schema_check_refuses_a_broken_event(spoil, message):
    document = valid_document()
    spoil(document)
    with pytest.raises(ValidationError, match=message):
        validate_event(document)


def test_the_schema_check_refuses_a_facet_without_a_vendored_schema():
    document = valid_document()
    document["run"]["facets"]["mystery"] = {"_producer": "urn:x", "_schemaURL": "https://example.org/Mystery.json#/$defs/M"}
    with pytest.raises(KeyError, match="mystery"):
        validate_event(document)

"""A real run (ingest, training, mastering) on a real worker sends its OpenLineage events to a local endpoint."""

import pytest

from curation import services as curation_services
from lineage.models import RunEvent
from mastering import services
from mastering.models import Job
from tests.factories import entity_type_with_records
from tests.integration.conftest import wait_for
from tests.lineage.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings, monkeypatch):
    """The endpoint, named in this process's settings and in the environment the worker starts with."""
    receiver = Receiver()
    with receiver.serving() as url:
        monkeypatch.setenv("OPENLINEAGE_URL", url)
        settings.OPENLINEAGE_URL = url
        yield receiver


def test_ingest_train_and_master_events_reach_the_endpoint_from_the_worker(receiver, celery_worker_process, steward):
    entity_type, source = entity_type_with_records(8)  # ingested inline; its events go out through the worker
    rows = [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i}-dup"},
             "answer": "match"} for i in range(0, 8, 2)]
    rows += [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i + 1}"},
              "answer": "distinct"} for i in range(0, 7, 2)]
    curation_services.import_labels(entity_type=entity_type, rows=rows, curator=steward)
    for kind in (Job.Kind.TRAIN, Job.Kind.MASTER):
        job = services.start_job(entity_type=entity_type, kind=kind, user=steward)
        finished = wait_for(lambda: Job.objects.filter(pk=job.pk).exclude(status__in=["queued", "running"]).first(),
                            timeout=180, message=f"the worker to finish the {kind} job")
        assert finished.status == Job.Status.DONE, finished.error
    names = [f"ingest.{source.slug}", f"train.{entity_type.slug}", f"master.{entity_type.slug}"]

    def all_received():
        got = [(e["job"]["name"], e["eventType"]) for e in receiver.events]
        return all([s for n, s in got if n == name] == ["START", "COMPLETE"] for name in names) or None

    wait_for(all_received, timeout=60, message="the events to reach the endpoint")
    stored = RunEvent.objects.filter(job_name__in=names)
    assert stored.count() == 6
    wait_for(lambda: not stored.exclude(delivery=RunEvent.Delivery.SENT).exists() or None, timeout=30,
             message="every event to be marked sent")
    assert sorted(e["run"]["runId"] + e["eventType"] for e in receiver.events if e["job"]["name"] in names) == sorted(
        f"{e.run_id}{e.event_type}" for e in stored)

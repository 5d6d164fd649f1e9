"""Sending run events to OPENLINEAGE_URL: after commit, by a Celery task; a failed send never fails the run."""

import uuid

import pytest
import requests

from lineage import services, tasks
from lineage.models import RunEvent
from lineage.run_events import RunFacts
from mastering.models import Job
from tests.lineage.conftest import run
from tests.lineage.receiver import Receiver

pytestmark = pytest.mark.django_db


def test_a_real_ingest_train_and_master_reach_a_local_endpoint(settings, labelled, django_capture_on_commit_callbacks):
    receiver = Receiver()
    entity_type, source = labelled
    with receiver.serving() as url:
        settings.OPENLINEAGE_URL = url
        from tests.factories import entity_type_with_records

        # A fresh ingest (its own source and entity type), then training and mastering of the labelled one.
        with django_capture_on_commit_callbacks(execute=True):
            entity_type_with_records(4, slug="other")
        train = run(Job.Kind.TRAIN, entity_type, django_capture_on_commit_callbacks)
        master = run(Job.Kind.MASTER, entity_type, django_capture_on_commit_callbacks)
    assert (train.status, master.status) == (Job.Status.DONE, Job.Status.DONE)
    assert set(receiver.paths) == {"/api/v1/lineage"}
    received = [(e["job"]["name"], e["eventType"]) for e in receiver.events]
    for name in ("ingest.other-src", f"train.{entity_type.slug}", f"master.{entity_type.slug}"):
        assert [state for job, state in received if job == name] == ["START", "COMPLETE"], name
    sent = RunEvent.objects.filter(job_name__in=["ingest.other-src", f"train.{entity_type.slug}", f"master.{entity_type.slug}"])
    assert {e.delivery for e in sent} == {RunEvent.Delivery.SENT} and all(e.sent_at for e in sent)
    # What arrived is what is stored and served.
    assert {e["run"]["runId"] + e["eventType"] for e in receiver.events} >= {f"{e.run_id}{e.event_type}" for e in sent}


def test_an_unreachable_endpoint_never_fails_the_run(settings, labelled, django_capture_on_commit_callbacks):
    settings.OPENLINEAGE_URL = "http://127.0.0.1:9"  # the discard port: nothing listens
    settings.OPENLINEAGE_TIMEOUT_SECONDS = 1
    entity_type, _ = labelled
    job = run(Job.Kind.TRAIN, entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE
    events = RunEvent.objects.filter(job_name=f"train.{entity_type.slug}")
    assert [e.event_type for e in events] == ["START", "COMPLETE"]
    for event in events:
        # In-process (no broker) it is tried once; the failure is kept on the event.
        assert (event.delivery, event.attempts) == (RunEvent.Delivery.FAILED, 1)
        assert "ConnectionError" in event.last_error


def test_nothing_is_sent_without_a_url(settings, labelled, django_capture_on_commit_callbacks, monkeypatch):
    settings.OPENLINEAGE_URL = ""
    monkeypatch.setattr(requests, "post", lambda *a, **k: pytest.fail("sent without OPENLINEAGE_URL"))
    entity_type, _ = labelled
    run(Job.Kind.TRAIN, entity_type, django_capture_on_commit_callbacks)
    assert set(RunEvent.objects.values_list("delivery", flat=True)) == {RunEvent.Delivery.OFF}


def test_nothing_is_sent_for_a_rolled_back_change(settings, db, monkeypatch):
    from django.db import transaction

    settings.OPENLINEAGE_URL = "http://127.0.0.1:9"
    monkeypatch.setattr(requests, "post", lambda *a, **k: pytest.fail("sent an event that was rolled back"))
    with pytest.raises(RuntimeError), transaction.atomic():
        services.record_run_event(facts=RunFacts(run_id=uuid.uuid4(), job_name="x", kind="master"), state="START")
        raise RuntimeError("the run's transaction failed")
    assert not RunEvent.objects.exists()


def stored_event(settings) -> RunEvent:
    settings.OPENLINEAGE_URL = "http://127.0.0.1:9"
    facts = RunFacts(run_id=uuid.uuid4(), job_name="master.x", kind="master")
    return services.record_run_event(facts=facts, state="START")


def test_a_passing_failure_is_retried_by_the_task_and_a_final_one_recorded(settings, db):
    receiver = Receiver()
    event = stored_event(settings)
    with receiver.serving() as url:
        settings.OPENLINEAGE_URL = url
        receiver.fail_next = 1
        assert services.deliver_run_event(event_id=event.pk, last_try=False) == services.Delivery.RETRY
        event.refresh_from_db()
        assert (event.delivery, event.attempts) == (RunEvent.Delivery.PENDING, 1) and "503" in event.last_error
        assert services.deliver_run_event(event_id=event.pk, last_try=False) == services.Delivery.SENT
    event.refresh_from_db()
    assert (event.delivery, event.attempts, event.last_error) == (RunEvent.Delivery.SENT, 2, "")
    assert receiver.events == [event.document]


def test_a_refused_event_is_not_retried(settings, db):
    receiver = Receiver()
    event = stored_event(settings)
    with receiver.serving() as url:
        settings.OPENLINEAGE_URL = url + "/wrong-prefix"  # the receiver answers 404 there
        assert services.deliver_run_event(event_id=event.pk, last_try=False) == services.Delivery.FAILED
    event.refresh_from_db()
    assert event.delivery == RunEvent.Delivery.FAILED and "404" in event.last_error


def test_the_task_retries_with_a_growing_wait_until_its_last_try(settings, db, monkeypatch):
    event = stored_event(settings)
    settings.OPENLINEAGE_RETRIES = 3
    calls = []
    monkeypatch.setattr(services, "deliver_run_event",
                        lambda *, event_id, last_try: calls.append(last_try) or (services.Delivery.FAILED if last_try else services.Delivery.RETRY))
    retried = []

    class Retry(Exception):
        pass

    def fake_retry(countdown):
        retried.append(countdown)
        return Retry()

    monkeypatch.setattr(tasks.deliver_run_event, "retry", fake_retry)
    for attempt in range(4):
        tasks.deliver_run_event.push_request(retries=attempt, is_eager=False)
        try:
            outcome = tasks.deliver_run_event.run(event.pk)
        except Retry:
            outcome = "retry"
        finally:
            tasks.deliver_run_event.pop_request()
        assert outcome == ("retry" if attempt < 3 else services.Delivery.FAILED)
    assert calls == [False, False, False, True] and retried == [5, 10, 20]


def test_an_event_already_sent_is_not_sent_again(settings, db, monkeypatch):
    event = stored_event(settings)
    RunEvent.objects.filter(pk=event.pk).update(delivery=RunEvent.Delivery.SENT)
    monkeypatch.setattr(requests, "post", lambda *a, **k: pytest.fail("sent twice"))
    assert services.deliver_run_event(event_id=event.pk) == services.Delivery.SENT

"""A mastering job runs through a real Celery worker on PostgreSQL: blocking, chunked scoring tasks, finish."""

import pytest

from mastering import services
from mastering.models import Entity, Job, Membership, SourceRecord
from tests.factories import trained_entity_type
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_master_job_through_a_real_worker(celery_worker_process, curator):
    entity_type, source = trained_entity_type(16)
    job = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER, user=curator)
    finished = wait_for(lambda: Job.objects.filter(pk=job.pk).exclude(status__in=["queued", "running"]).first(),
                        timeout=120, message="the worker to finish the mastering job")
    assert finished.status == Job.Status.DONE, finished.error
    assert Membership.objects.filter(entity_type=entity_type).count() == SourceRecord.objects.filter(source=source).count()
    by_key = dict(Membership.objects.values_list("record__key", "entity_id"))
    assert by_key["p0"] == by_key["p0-dup"] and by_key["p0"] != by_key["p1"]
    assert finished.counts["entities"] == Entity.objects.live().count()
    again = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER, user=curator)
    rerun = wait_for(lambda: Job.objects.filter(pk=again.pk, status="done").first(), timeout=120, message="the re-run")
    assert rerun.counts["unchanged"] == rerun.counts["entities"]
    assert dict(Membership.objects.values_list("record__key", "entity_id")) == by_key

"""A task goes out through the real broker, a real worker runs it against PostgreSQL, and the result comes back."""

import io

import pytest
from django.db import transaction

from lineage.models import Activity
from mastering import services
from mastering.models import IngestBatch, SourceRecord
from tests.factories import source_with_fields
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_background_ingest_round_trips_through_a_real_worker(celery_worker_process, engineer):
    source = source_with_fields("people", key="id", id="integer", name="string")
    table = "id,name\n" + "".join(f"{i},Person {i}\n" for i in range(5000))
    with transaction.atomic():
        batch = services.receive_table(source=source, stream=io.BytesIO(table.encode()), file_name="people.csv",
                                       user=engineer, channel=IngestBatch.Channel.API, background=True)
        assert batch.status == IngestBatch.Status.QUEUED
    finished = wait_for(lambda: IngestBatch.objects.filter(pk=batch.pk).exclude(status__in=["queued", "running"]).first(),
                        message="the worker to finish the batch")
    assert finished.status == IngestBatch.Status.SUCCEEDED, finished.error
    assert finished.created == 5000
    assert SourceRecord.objects.filter(source=source).count() == 5000
    assert Activity.objects.filter(kind=Activity.Kind.INGEST, user=engineer).exists()


def test_a_task_delivered_twice_runs_once(celery_worker_process, engineer):
    from mastering import tasks

    source = source_with_fields("people", key="id", id="integer", name="string")
    with transaction.atomic():
        batch = services.receive_table(source=source, stream=io.BytesIO(b"id,name\n1,Ada\n2,Alan\n"), file_name="p.csv",
                                       user=engineer, channel=IngestBatch.Channel.API, background=True)
        # A second delivery of the same message, as a broker redelivers after a lost acknowledgement.
        transaction.on_commit(lambda: tasks.run_ingest.delay(batch.pk))
    wait_for(lambda: IngestBatch.objects.filter(pk=batch.pk, status="succeeded").exists(), message="the batch")
    import time

    time.sleep(2)  # give the duplicate time to run
    batch.refresh_from_db()
    assert (batch.created, batch.updated, batch.unchanged) == (2, 0, 0)
    assert SourceRecord.objects.count() == 2 and Activity.objects.filter(kind=Activity.Kind.INGEST).count() == 1

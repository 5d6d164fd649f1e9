"""A rejected batch sent again keeping its good rows: the good rows are written as a new batch, the bad ones stay
listed on the first, and it happens once."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lineage.models import Activity
from mastering import services
from mastering.models import IngestBatch, SourceRecord
from mastering.services.ingest import CannotResend
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string!", age="integer")


def rejected_batch(client) -> IngestBatch:
    response = client.post(reverse("mastering:source-upload", args=["people"]),
                           {"file": SimpleUploadedFile("people.csv", b"id,name,age\n1,Ada,36\n2,Alan,old\n3,Grace,85\n")})
    client.post(response["Location"], {"mode": "append"})
    batch = IngestBatch.objects.get()
    assert batch.status == IngestBatch.Status.REJECTED and SourceRecord.objects.count() == 0
    return batch


def test_rejected_batch_is_sent_again_keeping_its_good_rows(client_for, steward, people):
    client = client_for(steward)
    batch = rejected_batch(client)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Send again keeping" in page and "Download problem report" in page
    response = client.post(reverse("mastering:batch-resend", args=["people", batch.pk]))
    new = IngestBatch.objects.exclude(pk=batch.pk).get()
    assert response["Location"] == new.get_absolute_url()
    assert new.status == IngestBatch.Status.SUCCEEDED and new.partial and new.created == 2 and new.rejected == 1
    assert sorted(SourceRecord.objects.values_list("key", flat=True)) == ["1", "3"]
    assert new.problems[0]["row"] == 3 and "whole number" in new.problems[0]["reason"]
    batch.refresh_from_db()
    assert batch.status == IngestBatch.Status.REJECTED and batch.problems and batch.upload_path == ""
    assert Activity.objects.filter(parameters__resent_from=batch.pk).count() == 1
    # Twice sends once: the second is refused in words, nothing more written.
    again = client.post(reverse("mastering:batch-resend", args=["people", batch.pk]), follow=True)
    assert "already sent again" in again.content.decode()
    assert IngestBatch.objects.count() == 2
    assert "Send again keeping" not in client.get(batch.get_absolute_url()).content.decode()


def test_only_a_rejected_batch_can_be_resent(client_for, steward, people):
    client = client_for(steward)
    batch = rejected_batch(client)
    new = services.resend_good_rows(batch=batch, user=steward)
    with pytest.raises(CannotResend, match="Only a batch rejected"):
        services.resend_good_rows(batch=new, user=steward)


def test_resend_needs_the_ingest_permission_and_a_post(client_for, business_user, steward, people):
    batch = rejected_batch(client_for(steward))
    url = reverse("mastering:batch-resend", args=["people", batch.pk])
    assert client_for(business_user).post(url).status_code == 403
    assert client_for(steward).get(url).status_code == 405
    assert IngestBatch.objects.count() == 1

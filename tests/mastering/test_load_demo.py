import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from lineage.models import Activity
from mastering.models import IngestBatch, Source, SourceRecord, SourceRecordVersion

pytestmark = pytest.mark.django_db


def counts() -> dict:
    return {
        "sources": Source.objects.count(),
        "records": SourceRecord.objects.count(),
        "versions": SourceRecordVersion.objects.count(),
        "batches": IngestBatch.objects.count(),
        "users": get_user_model().objects.count(),
        "activities": Activity.objects.count(),
    }


def test_load_demo_twice_gives_the_same_counts(capsys):
    call_command("load_demo")
    first = counts()
    output = capsys.readouterr().out
    call_command("load_demo")
    assert counts() == first
    assert first["sources"] == 3 and first["records"] == 384
    assert "curator    / steward-curator" in output

import pytest

from mastering import services as mastering_services
from mastering.models import Entity, Job, Membership, SourceRecord
from tests.factories import entity_type_with_records, trained_entity_type


def entity_of(key: str) -> Entity:
    return Membership.objects.select_related("entity__entity_type").get(record__key=key).entity


def record(key: str) -> SourceRecord:
    return SourceRecord.objects.select_related("source").get(key=key)


def master(entity_type, capture) -> Job:
    with capture(execute=True):
        job = mastering_services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    return job


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    """A mastered Person type over one source: p0 and p0-dup are one entity, p1 another."""
    entity_type, source = trained_entity_type(16)
    master(entity_type, django_capture_on_commit_callbacks)
    assert entity_of("p0") == entity_of("p0-dup") != entity_of("p1")
    return entity_type, source


@pytest.fixture
def people(db):
    """A Person type with entities made directly (no training, no run): p0 with p0-dup, and each other person alone."""
    from mastering.services import golden

    entity_type, source = entity_type_with_records(6)
    for person in range(6):
        entity = Entity.objects.create(entity_type=entity_type)
        for r in SourceRecord.objects.filter(source=source, key__in=[f"p{person}", f"p{person}-dup"]):
            Membership.objects.create(entity_type=entity_type, entity=entity, record=r, reason=Membership.Reason.MODEL)
    golden.refresh_entities(entity_type, Entity.objects.values_list("pk", flat=True))
    return entity_type, source

import pytest

from curation import services as curation_services
from mastering import services
from mastering.models import Job
from tests.factories import entity_type_with_records


def run(kind: str, entity_type, capture) -> Job:
    with capture(execute=True):
        job = services.start_job(kind=kind, entity_type=entity_type)
    job.refresh_from_db()
    return job


@pytest.fixture
def ingested(db):
    """An entity type over one source, its table ingested by an inline ingest job."""
    return entity_type_with_records(8)


@pytest.fixture
def labelled(ingested, steward):
    entity_type, source = ingested
    rows = [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i}-dup"},
             "answer": "match"} for i in range(0, 8, 2)]
    rows += [{"left": {"source": source.slug, "key": f"p{i}"}, "right": {"source": source.slug, "key": f"p{i + 1}"},
              "answer": "distinct"} for i in range(0, 7, 2)]
    curation_services.import_labels(entity_type=entity_type, rows=rows, curator=steward)
    return entity_type, source


@pytest.fixture
def mastered(labelled, django_capture_on_commit_callbacks):
    """Ingest, train and master, each a job run: three runs of OpenLineage events."""
    entity_type, source = labelled
    train = run(Job.Kind.TRAIN, entity_type, django_capture_on_commit_callbacks)
    master = run(Job.Kind.MASTER, entity_type, django_capture_on_commit_callbacks)
    assert (train.status, master.status) == (Job.Status.DONE, Job.Status.DONE), (train.error, master.error)
    return entity_type, source, train, master

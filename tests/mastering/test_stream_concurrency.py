"""Two requests streaming the two halves of one new entity at the same moment make one entity (PostgreSQL).

Real transactions on two connections (threads). The records come from two sources, so the source lock does not
serialize them: only the advisory locks on their shared blocking keys do. A second test takes those locks away
and shows that the same race then makes two entities, so the first can fail.
"""

import threading
import time

import pytest
from django.db import connection, connections

from mastering import services
from mastering.models import Entity, Job, Membership, Source
from mastering.services import stream_master
from tests.factories import source_with_fields, trained_entity_type

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has one writer: no race to test"),
]


@pytest.fixture
def two_stream_sources(django_capture_on_commit_callbacks):
    from mastering.services.entity_types import set_mappings

    entity_type, first = trained_entity_type(16)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    assert Job.objects.get(kind=Job.Kind.MASTER).status == Job.Status.DONE
    second = source_with_fields("crm", key="id", id="string", first="string", last="string", city="string")
    set_mappings(entity_type=entity_type, source=second, actor=None,
                 mappings=[{"field": f, "attribute": f, "transforms": ["trim", "lowercase"]} for f in ("first", "last", "city")])
    Source.objects.filter(pk__in=[first.pk, second.pk]).update(ingest_mode=Source.IngestMode.STREAM)
    first.refresh_from_db()
    second.refresh_from_db()
    return entity_type, first, second


def race(first, second, *, hold_seconds: float) -> list:
    """Stream one new person through both sources at once; each request dawdles after matching, before writing."""
    real = stream_master.find_matches
    barrier = threading.Barrier(2)
    results, errors = [], []

    def slow_find(**kwargs):
        result = real(**kwargs)
        time.sleep(hold_seconds)  # the window in which the other request would match against nothing
        return result

    def push(source, key):
        try:
            barrier.wait(timeout=10)
            streamed = services.stream_record(source=source, key=key, user=None,
                                              data={"first": "zenobia", "last": "quartermaine", "city": "tallinn"})
            results.append(streamed.placements[0])
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    stream_master.find_matches = slow_find
    try:
        threads = [threading.Thread(target=push, args=(first, "z-a")), threading.Thread(target=push, args=(second, "z-b"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        stream_master.find_matches = real
    assert not errors, errors
    return results


def test_two_halves_of_a_new_entity_streamed_at_once_make_one_entity(two_stream_sources):
    entity_type, first, second = two_stream_sources
    before = Entity.objects.live().count()
    results = race(first, second, hold_seconds=0.5)
    entities = set(Membership.objects.filter(record__key__in=["z-a", "z-b"]).values_list("entity_id", flat=True))
    assert len(entities) == 1
    assert Entity.objects.live().count() == before + 1
    assert sorted(p.action for p in results) == ["joined", "new"]


def test_without_the_block_locks_the_same_race_makes_two_entities(two_stream_sources, monkeypatch):
    entity_type, first, second = two_stream_sources
    monkeypatch.setattr(stream_master, "_lock_blocks", lambda blocks: None)
    race(first, second, hold_seconds=0.5)
    entities = set(Membership.objects.filter(record__key__in=["z-a", "z-b"]).values_list("entity_id", flat=True))
    assert len(entities) == 2

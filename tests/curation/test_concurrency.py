"""Many curators at once never get the same pair (compare-and-set claims), on PostgreSQL under real concurrency."""

import threading

import pytest
from django.db import connection

from curation import services
from curation.models import Label
from curation.services import queue
from tests.conftest import make_user
from tests.factories import entity_type_with_records, make_pairs

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL; SQLite serializes writers"),
]


def test_twenty_threads_claiming_from_a_hundred_pairs_never_share_one(monkeypatch):
    monkeypatch.setattr(queue, "_keep_learning", lambda entity_type_id: None)  # no retraining in this test
    entity_type, source = entity_type_with_records(30)
    make_pairs(entity_type, source, 100)
    curators = [make_user(f"curator-{i}", "curator") for i in range(20)]
    handed: list[tuple[str, int]] = []
    errors: list[Exception] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(curators))

    def work(curator) -> None:
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            while (pair := services.claim_next_pair(curator=curator, entity_type=entity_type)) is not None:
                with lock:
                    handed.append((curator.username, pair.pk))
                services.answer_pair(pair=pair, curator=curator, answer=Label.Answer.UNSURE)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=work, args=(c,)) for c in curators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pair_ids = [pair_id for _, pair_id in handed]
    assert len(pair_ids) == 100, "every pair is handed out"
    assert len(set(pair_ids)) == 100, "no pair was handed to two curators"
    assert Label.objects.count() == 100
    assert len({username for username, _ in handed}) > 1

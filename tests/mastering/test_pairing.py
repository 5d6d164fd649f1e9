"""Pairing on block keys: PostgreSQL's grouped pairing gives the portable join's pairs, chunks and block report."""

import pytest
from django.db import connection

from mastering.models import Job, RecordBlockKey, ScoredPair
from mastering.services.master import blocking
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db


def pairs_of(job) -> list[tuple]:
    return sorted(ScoredPair.objects.filter(job=job).values_list("left", "right", "chunk"))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the grouped pairing is PostgreSQL's")
@pytest.mark.parametrize("one_per_source", [False, True])
def test_grouped_pairing_equals_the_portable_join(monkeypatch, one_per_source):
    entity_type, *_ = trained_entity_type(8)
    model = entity_type.active_model
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.MASTER, model=model, status=Job.Status.RUNNING)
    monkeypatch.setattr(blocking, "PAIRS_PER_CHUNK", 4)  # several chunks from a few pairs
    monkeypatch.setattr(blocking.engine, "block_size_cap", lambda sizes, budget: 5)  # the 7-record block is over it
    # Blocks of 2, 3, 4 and 7 records, sources alternating, the same pairs in several blocks, one record twice over.
    # The last: two records of one source.
    members = {101: [1, 2], 102: [1, 2, 3], 103: [2, 4, 6, 9], 104: list(range(10, 17)), 105: [5], 106: [9, 6],
               107: [22, 20]}
    RecordBlockKey.objects.bulk_create(
        [
            RecordBlockKey(
                entity_type=entity_type, model=model, predicate=block % 3, block=block, record=record, source=record % 2
            )
            for block, records in members.items()
            for record in records
        ]
    )
    names = ["a", "b", "c"]
    grouped = blocking._pair_records_postgresql(job, names, one_per_source=one_per_source)
    pairs = pairs_of(job)
    ScoredPair.objects.filter(job=job).delete()
    portable = blocking._pair_records_portable(job, names, one_per_source=one_per_source)
    assert pairs == pairs_of(job) and grouped == portable
    assert len(pairs) == (5 if one_per_source else 10) and all(left < right for left, right, _ in pairs)
    assert {chunk for _, _, chunk in pairs} == ({0, 1} if one_per_source else {0, 1, 2})


def test_a_runs_block_keys_are_the_hashes_streaming_probes_with():
    from mastering.mapping import iter_mapped_records, projection_for

    entity_type, *_ = trained_entity_type(8)
    job = Job.objects.create(entity_type=entity_type, kind=Job.Kind.MASTER, model=entity_type.active_model,
                             status=Job.Status.RUNNING)
    records, sources = {}, {}
    for record_id, source_id, values in iter_mapped_records(projection_for(entity_type)):
        records[record_id], sources[record_id] = values, source_id
    rows = blocking.block_keys(job, records, sources)  # rule by rule, each rule's hash prefix computed once
    probed = [(key.predicate, blocking.block_hash(key.predicate, key.key), key.record_id, sources[key.record_id])
              for key in blocking.matcher(job.model).blocking_keys(records)]
    assert rows and sorted(rows) == sorted(probed)

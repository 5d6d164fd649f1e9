"""steward.db: id lists as one array parameter, COPY text, and golden facts read through them."""

import datetime
import uuid

import pytest

from mastering.mapping import projection_for
from mastering.models import Membership, SourceRecord
from mastering.resolution.survivorship import RULES, Candidate, golden_record
from mastering.services import golden
from steward.db import _text, among
from tests.factories import entity_type_with_records


@pytest.mark.django_db
def test_among_filters_by_ids_and_foreign_keys():
    entity_type, source = entity_type_with_records(6)
    ids = sorted(SourceRecord.objects.filter(source=source).values_list("pk", flat=True))
    wanted = ids[1:4]
    assert sorted(SourceRecord.objects.filter(among(SourceRecord, "id", wanted)).values_list("pk", flat=True)) == wanted
    assert not SourceRecord.objects.filter(among(SourceRecord, "id", [])).exists()
    assert not Membership.objects.filter(among(Membership, "record", wanted)).exists()
    facts = golden.record_facts(projection_for(entity_type), record_ids=wanted)
    assert sorted(facts) == wanted
    for record in SourceRecord.objects.filter(pk__in=wanted):
        # Seconds since the epoch, equal to the datetime's own (PostgreSQL computes them on the server).
        assert (facts[record.pk]["created"], facts[record.pk]["updated"]) == (record.created_at.timestamp(), record.updated_at.timestamp())
        assert facts[record.pk]["values"]["first"] == record.data["first"]


def test_copy_text():
    when = datetime.datetime(2026, 12, 7, 22, 0, tzinfo=datetime.UTC)
    assert [_text(v) for v in (7, None, True, False, 1.5, "a\tb\\c\nd", uuid.UUID(int=1), when)] == [
        "7", "\\N", "t", "f", "1.5", "a\\tb\\\\c\\nd", "00000000-0000-0000-0000-000000000001", when.isoformat()]
    assert _text({"name": "Zoë\t", "n": [1, None]}) == '{"name": "Zoë\\\\t", "n": [1, null]}'
    assert _text(Membership.Reason.MODEL) == str(Membership.Reason.MODEL)
    assert [_text(v) for v in ([], {}, float("inf"), -0.25)] == ["[]", "{}", "inf", "-0.25"]
    # Text needing no escape comes back as it is, other unprintable characters too.
    assert [_text(v) for v in ("Zoë", "a\x0bb", "\\\r")] == ["Zoë", "a\x0bb", "\\\\\\r"]


@pytest.mark.django_db(transaction=True)
def test_background_inserts_write_in_the_callers_transaction_and_raise_its_errors_at_the_wait():
    from django.db import IntegrityError, transaction

    from mastering.models import Job, RunRecord
    from steward.db import BackgroundInserts

    entity_type, _ = entity_type_with_records(2)
    job = Job.objects.create(kind=Job.Kind.MASTER, entity_type=entity_type)
    columns = ["job_id", "record", "version"]

    with pytest.raises(RuntimeError), transaction.atomic(), BackgroundInserts() as inserts:
        inserts.send([(RunRecord, columns, [(job.pk, 1, 1), (job.pk, 2, 1)])])
        inserts.send([(RunRecord, columns, [(job.pk, 3, 1)])])  # waits for the first
        raise RuntimeError("the caller dies while the thread writes")
    assert not RunRecord.objects.exists()  # rolled back with the caller's transaction
    with transaction.atomic(), BackgroundInserts() as inserts:
        inserts.send([(RunRecord, columns, [(job.pk, 1, 1), (job.pk, 2, 1)])])
        inserts.wait()
        assert sorted(RunRecord.objects.values_list("record", flat=True)) == [1, 2]
    # A version below zero breaks a check constraint: the thread's error comes out of the wait, as Django's.
    with pytest.raises(IntegrityError), transaction.atomic(), BackgroundInserts() as inserts:
        inserts.send([(RunRecord, columns, [(job.pk, 3, -1)])])
    assert RunRecord.objects.count() == 2


@pytest.mark.parametrize("rule", sorted(RULES))
def test_golden_for_leaves_out_empty_values_as_the_rules_do(rule):
    values = [{"a": "x", "b": ""}, {"a": None, "b": "2"}, {"a": "", "b": "10"}, {"a": "x", "b": None}]
    facts = {r: {"source_id": 1, "source": "s", "priority": r % 2, "key": f"k{r}", "version": 1, "created": float(r),
                 "updated": float(10 - r), "values": v} for r, v in enumerate(values, start=1)}
    rules = {"a": rule, "b": rule, "c": rule}
    every = {name: [Candidate(record=r, value=f["values"].get(name), version=1, source="s", key=f["key"], priority=f["priority"],
                              updated_at=f["updated"], created_at=f["created"]) for r, f in facts.items()] for name in rules}
    assert golden.golden_for(rules, list(facts), facts, None) == golden_record(rules, every, None)


@pytest.mark.django_db
@pytest.mark.parametrize("integers", [False, True])
def test_insert_rows_of_integers_stores_what_the_generic_path_stores(integers):
    import numpy

    from mastering.models import RecordBlockKey
    from steward.db import insert_integer_rows, insert_rows

    entity_type, source = entity_type_with_records(2)
    model = _model(entity_type)
    rows = [(entity_type.pk, model.pk, 3, -(2**63), 11, source.pk), (entity_type.pk, model.pk, 0, 2**63 - 1, 12, source.pk)]
    columns = ["entity_type_id", "model_id", "predicate", "block", "record", "source"]
    if integers:  # a binary COPY of an array on PostgreSQL: smallint, integer and bigint columns, 64-bit extremes
        assert insert_integer_rows(RecordBlockKey, columns, numpy.array(rows, dtype=numpy.int64)) == 2
    else:
        assert insert_rows(RecordBlockKey, columns, iter(rows)) == 2
    stored = RecordBlockKey.objects.filter(entity_type=entity_type).order_by("record")
    assert list(stored.values_list("entity_type_id", "model_id", "predicate", "block", "record", "source")) == rows


def _model(entity_type):
    from mastering.models import MatchModel

    return MatchModel.objects.create(entity_type=entity_type, version=1, learned_settings=b"")

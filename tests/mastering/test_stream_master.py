"""Streaming mastering: a record on a stream-mode source joins or starts an entity inside its request (flow 4)."""

import pytest
from django.db import connection
from django.utils import timezone

from lineage.models import Activity
from mastering import services
from mastering.models import Entity, Job, Membership, RecordBlockKey, RunChange, Source, SourceRecord
from mastering.services import entities as entity_services
from mastering.services.matching import IndexNotReady, NotTrained
from tests.factories import entity_type_with_records, trained_entity_type

pytestmark = pytest.mark.django_db


def master(entity_type, capture) -> Job:
    with capture(execute=True):
        job = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.error
    return job


@pytest.fixture
def mastered(django_capture_on_commit_callbacks):
    entity_type, source = trained_entity_type(16)
    master(entity_type, django_capture_on_commit_callbacks)
    Source.objects.filter(pk=source.pk).update(ingest_mode=Source.IngestMode.STREAM)
    source.refresh_from_db()
    return entity_type, source


def twin(source, key, new_key, **changes) -> dict:
    """The data of a stored record under another key, with some values changed."""
    return {**SourceRecord.objects.get(source=source, key=key).data, "id": new_key, **changes}


def entity_of(source, key) -> Entity:
    return Membership.objects.select_related("entity").get(record__source=source, record__key=key).entity


def test_a_batch_run_leaves_every_records_keys_in_the_index(mastered):
    entity_type, source = mastered
    indexed = set(RecordBlockKey.objects.filter(entity_type=entity_type).values_list("record", flat=True))
    assert indexed == set(SourceRecord.objects.filter(source=source).values_list("pk", flat=True))
    assert set(RecordBlockKey.objects.values_list("model", flat=True)) == {entity_type.active_model.pk}


def test_a_streamed_duplicate_joins_its_entity_with_golden_record_change_and_activity(mastered, engineer):
    entity_type, source = mastered
    target = entity_of(source, "p3")
    streamed = services.stream_record(source=source, key="p3-new", data=twin(source, "p3", "p3-new", first="edsgar"),
                                      user=engineer)
    (placement,) = streamed.placements
    assert placement.action == "joined" and not placement.created and placement.entity.pk == target.pk
    target.refresh_from_db()
    assert target.size == 2 and placement.score > 0.5
    assert Membership.objects.get(record=streamed.record).reason == Membership.Reason.MODEL
    change = RunChange.objects.get(entity_id=target.pk, kind=RunChange.Kind.GROWN)
    assert change.added == [streamed.record.pk] and change.user == engineer and "p3-new" in change.reason
    assert RecordBlockKey.objects.filter(record=streamed.record.pk).exists()
    assert Activity.objects.filter(kind=Activity.Kind.STREAM, summary__contains="joined entity").exists()


def test_a_streamed_stranger_becomes_a_new_entity(mastered, engineer):
    entity_type, source = mastered
    before = Entity.objects.live().count()
    streamed = services.stream_record(source=source, key="zz", data={"first": "xavier", "last": "quintero", "city": "lima"},
                                      user=engineer)
    (placement,) = streamed.placements
    assert placement.action == "new" and placement.created
    assert Entity.objects.live().count() == before + 1
    entity = placement.entity
    assert entity.size == 1 and entity.golden["last"] == "quintero"
    assert Membership.objects.get(record=streamed.record).reason == Membership.Reason.SINGLETON
    assert RunChange.objects.filter(entity_id=entity.pk, kind=RunChange.Kind.NEW).exists()


def test_a_changed_record_that_no_longer_matches_moves_and_its_empty_entity_redirects(mastered, engineer):
    entity_type, source = mastered
    streamed = services.stream_record(source=source, key="zz", data={"first": "xavier", "last": "quintero", "city": "lima"},
                                      user=engineer)
    lone = streamed.placements[0].entity
    target = entity_of(source, "p5")
    moved = services.stream_record(source=source, key="zz", data=twin(source, "p5", "zz"), user=engineer)
    (placement,) = moved.placements
    assert placement.entity.pk == target.pk and placement.moved_from == str(lone.pk)
    lone.refresh_from_db()
    assert lone.retired_at is not None and lone.retired_into_id == target.pk
    assert RunChange.objects.filter(entity_id=lone.pk, kind=RunChange.Kind.RETIRED, related=[str(target.pk)]).exists()


def test_a_member_that_changes_beyond_recognition_leaves_for_a_new_entity(mastered, engineer):
    entity_type, source = mastered
    pair = entity_of(source, "p0")
    assert pair.size == 2
    moved = services.stream_record(source=source, key="p0-dup", data={"first": "xavier", "last": "quintero", "city": "lima"},
                                   user=engineer)
    (placement,) = moved.placements
    assert placement.action == "moved" and placement.created and placement.moved_from == str(pair.pk)
    pair.refresh_from_db()
    assert pair.size == 1 and pair.retired_at is None
    assert Membership.objects.get(record__key="p0").reason == Membership.Reason.SINGLETON
    assert RunChange.objects.filter(entity_id=pair.pk, kind=RunChange.Kind.SHRUNK).exists()


def test_an_unchanged_member_stays_and_its_golden_record_follows_a_change(mastered, engineer):
    entity_type, source = mastered
    pair = entity_of(source, "p0")
    record = SourceRecord.objects.get(source=source, key="p0")
    stayed = services.stream_record(source=source, key="p0", data={**record.data, "city": "londonderry"}, user=engineer)
    (placement,) = stayed.placements
    assert placement.action == "stayed" and placement.entity.pk == pair.pk


def test_a_pinned_entity_neither_gains_nor_loses_members(mastered, engineer):
    entity_type, source = mastered
    pair = entity_of(source, "p2")
    entity_services.pin_entity(entity=pair, user=engineer, reason="checked by hand")
    joined = services.stream_record(source=source, key="p2-again", data=twin(source, "p2", "p2-again"), user=engineer)
    assert joined.placements[0].entity.pk != pair.pk
    away = SourceRecord.objects.get(source=source, key="p2-dup")
    kept = services.stream_record(source=source, key="p2-dup", data={**away.data, "first": "xavier", "last": "quintero"},
                                  user=engineer)
    assert kept.placements[0].action == "kept" and kept.placements[0].entity.pk == pair.pk


def test_records_marked_not_a_match_are_never_joined(mastered, engineer):
    entity_type, source = mastered
    # The training labels say p0 and p1 are not a match; p1's twin would otherwise join p1's entity.
    p1 = SourceRecord.objects.get(source=source, key="p1")
    from curation.models import CandidatePair, Label
    from curation.services.labels import record_label

    streamed = services.stream_record(source=source, key="p1-twin", data=dict(p1.data, id="p1-twin"), user=engineer)
    assert streamed.placements[0].entity.pk == entity_of(source, "p1").pk
    record_label(entity_type=entity_type, a=streamed.record, b=p1, answer=Label.Answer.DISTINCT, curator=engineer,
                 origin=Label.Origin.ISSUE, pair_origin=CandidatePair.Origin.ISSUE)
    again = services.stream_record(source=source, key="p1-twin", data=dict(p1.data, id="p1-twin", city="vienna"), user=engineer)
    assert again.placements[0].entity.pk != entity_of(source, "p1").pk


def test_a_retired_record_leaves_its_entity(mastered, engineer, django_capture_on_commit_callbacks):
    import io

    entity_type, source = mastered
    pair = entity_of(source, "p4")
    keys = [k for k in SourceRecord.objects.filter(source=source).values_list("key", flat=True) if k != "p4-dup"]
    table = "id,first,last,city\n" + "\n".join(
        ",".join([r.key, r.data["first"], r.data["last"], r.data["city"]]) for r in SourceRecord.objects.filter(key__in=keys))
    batch = services.receive_table(source=source, stream=io.BytesIO(table.encode()), file_name="snap.csv", user=engineer,
                                   channel="api", background=False, mode="snapshot")
    assert batch.retired == 1
    assert not Membership.objects.filter(record__key="p4-dup").exists()
    assert not RecordBlockKey.objects.filter(record=SourceRecord.objects.get(key="p4-dup").pk).exists()
    pair.refresh_from_db()
    assert pair.size == 1


def test_a_batch_to_a_stream_source_places_its_records(mastered, engineer):
    import io

    entity_type, source = mastered
    target = entity_of(source, "p3")
    p3 = SourceRecord.objects.get(source=source, key="p3").data
    row = f"q1,{p3['first']},{p3['last']},{p3['city']}\n"
    services.receive_table(source=source, stream=io.BytesIO(("id,first,last,city\n" + row).encode()),
                           file_name="one.csv", user=engineer, channel="api", background=False)
    assert entity_of(source, "q1").pk == target.pk
    # place_batch writes no Activity itself: each record it places leaves place_record's (tests/lineage/test_capture.py).
    assert Activity.objects.filter(kind=Activity.Kind.STREAM, summary__startswith=f"{source.name}:q1 ").exists()


def test_without_a_model_the_record_is_stored_and_409_says_train_first(engineer):
    entity_type, source = entity_type_with_records(6)
    Source.objects.filter(pk=source.pk).update(ingest_mode=Source.IngestMode.STREAM)
    source.refresh_from_db()
    with pytest.raises(NotTrained, match="train first"):
        services.stream_record(source=source, key="n1", data={"first": "ada", "last": "byron", "city": "london"}, user=engineer)
    assert SourceRecord.objects.filter(source=source, key="n1").exists()
    assert not Membership.objects.exists()


def test_entities_of_another_model_version_refuse_streaming_until_a_run(mastered, engineer):
    entity_type, source = mastered
    RecordBlockKey.objects.all().delete()  # as after training a new version, before its first run
    with pytest.raises(IndexNotReady, match="run a mastering job"):
        services.stream_record(source=source, key="zz", data={"first": "xavier", "last": "quintero", "city": "lima"},
                               user=engineer)
    assert SourceRecord.objects.filter(source=source, key="zz").exists()
    assert not Membership.objects.filter(record__key="zz").exists()


def test_a_batch_mode_source_stores_without_matching(engineer):
    entity_type, source = trained_entity_type(8)
    streamed = services.stream_record(source=source, key="b1", data={"first": "ada", "last": "byron", "city": "x"}, user=engineer)
    assert streamed.placements == [] and not Membership.objects.exists()


def test_candidate_lookup_skips_blocks_over_the_cap(mastered):
    from django.db.models import Count

    from mastering.services import match_index

    entity_type, _ = mastered
    model = entity_type.active_model
    shared = (RecordBlockKey.objects.filter(model=model).values("block").annotate(n=Count("record")).filter(n__gte=2)
              .order_by("-n").first())
    members = set(RecordBlockKey.objects.filter(model=model, block=shared["block"]).values_list("record", flat=True))
    found = match_index.candidate_records(model=model, blocks=[shared["block"]], cap=shared["n"])
    assert set(found.records) == members and found.skipped_blocks == 0
    capped = match_index.candidate_records(model=model, blocks=[shared["block"]], cap=shared["n"] - 1)
    assert capped.records == {} and capped.skipped_blocks == 1


def test_an_override_stays_when_a_streamed_record_joins(mastered, engineer):
    from mastering.models import Attribute

    entity_type, source = mastered
    target = entity_of(source, "p3")
    entity_services.override_value(entity=target, attribute=Attribute.objects.get(entity_type=entity_type, name="city"),
                                   value="Reykjavik", user=engineer, reason="moved there")
    streamed = services.stream_record(source=source, key="p3-new", data=twin(source, "p3", "p3-new", first="edsgar"),
                                      user=engineer)
    assert streamed.placements[0].entity.pk == target.pk
    target.refresh_from_db()
    assert target.golden["city"] == "Reykjavik" and target.provenance["city"]["rule"] == "override" and target.size == 2


# Statements one streamed PUT may take (the test's savepoints included; SQLite also reads each block apart). About 50
# before streaming read candidates, members and values in one query and wrote the ingest without the batch writer.
# 22 (PostgreSQL) before a source's fields were cached per process, its lock and the record lookup shared a round
# trip, and a batch of only new records stopped reading waiting corrections. A changed record also reads its
# membership and labels, and whether its entity has other members. 19 (PostgreSQL) before placing a record took one
# statement (lock the entity, add the membership, mark its singletons, write its golden record and change: 5 before, or
# 3 for a new entity) and its two Activities one more (2 before); a changed record that stays 22 before, and it no
# longer asks whether its entity has other members when the match read them.
PUT_STATEMENTS = 14 if connection.vendor == "postgresql" else 23
CHANGED_PUT_STATEMENTS = 17 if connection.vendor == "postgresql" else 28


def put(client, source, key, data):
    response = client.put(f"/api/sources/{source.slug}/records/{key}/", {"data": data}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_put_that_joins_an_entity_takes_few_statements_and_its_golden_record_matches_a_recompute(
        mastered, api_for, engineer, django_assert_max_num_queries):
    from mastering.services import golden

    entity_type, source = mastered
    target = entity_of(source, "p3")  # a singleton: joining it makes its lone member "matched by the model"
    client = api_for(engineer)
    put(client, source, "warm", {"id": "warm", "first": "yves", "last": "zola", "city": "nice"})  # loads the matcher
    with django_assert_max_num_queries(PUT_STATEMENTS):
        body = put(client, source, "p3-new", twin(source, "p3", "p3-new", first="edsgar"))
    assert body["entity_id"] == str(target.pk) and body["placements"][0]["action"] == "joined"
    target.refresh_from_db()
    streamed = (target.size, target.confidence, target.golden, target.provenance)
    (recomputed,) = golden.refresh_entities(entity_type, [target.pk])
    assert streamed == (recomputed.size, recomputed.confidence, recomputed.golden, recomputed.provenance)
    assert set(Membership.objects.filter(entity=target).values_list("reason", flat=True)) == {Membership.Reason.MODEL}


def test_a_put_that_starts_an_entity_takes_few_statements(mastered, api_for, engineer, django_assert_max_num_queries):
    entity_type, source = mastered
    client = api_for(engineer)
    put(client, source, "warm", {"id": "warm", "first": "yves", "last": "zola", "city": "nice"})
    with django_assert_max_num_queries(PUT_STATEMENTS):
        body = put(client, source, "zz", {"id": "zz", "first": "xavier", "last": "quintero", "city": "lima"})
    assert body["new_entity"] and Entity.objects.get(pk=body["entity_id"]).golden["last"] == "quintero"


def test_a_changed_record_that_stays_takes_few_statements(mastered, api_for, engineer, django_assert_max_num_queries):
    entity_type, source = mastered
    client = api_for(engineer)
    put(client, source, "warm", {"id": "warm", "first": "yves", "last": "zola", "city": "nice"})
    record = SourceRecord.objects.get(source=source, key="p0")
    with django_assert_max_num_queries(CHANGED_PUT_STATEMENTS):
        body = put(client, source, "p0", {**record.data, "city": "londonderry"})
    assert body["placements"][0]["action"] == "stayed"


def test_a_changed_member_that_stays_leaves_the_golden_record_a_recompute_gives(mastered, engineer):
    from mastering.services import golden

    entity_type, source = mastered
    pair = entity_of(source, "p0")
    record = SourceRecord.objects.get(source=source, key="p0")
    stayed = services.stream_record(source=source, key="p0", data={**record.data, "city": "londonderry"}, user=engineer)
    assert stayed.placements[0].action == "stayed"
    pair.refresh_from_db()
    streamed = (pair.size, pair.confidence, pair.golden, pair.provenance)
    (recomputed,) = golden.refresh_entities(entity_type, [pair.pk])
    assert streamed == (recomputed.size, recomputed.confidence, recomputed.golden, recomputed.provenance)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one-statement placement is PostgreSQL's")
def test_a_join_whose_entity_changed_after_the_match_read_it_takes_the_long_way(mastered, engineer, monkeypatch):
    """The one-statement join writes nothing when the entity's stamp moved since the match read it; the record still
    joins, once, and the golden record is recomputed from the database (with what the other writer changed)."""
    from mastering.services import golden, stream_writes

    entity_type, source = mastered
    target = entity_of(source, "p3")
    real = stream_writes.join_entity
    tried = []

    def another_stream_first(**arguments):
        # As if another stream had changed the entity between this one's match and its write.
        Entity.objects.filter(pk=arguments["entity_id"]).update(golden={**target.golden, "city": "zaragoza"},
                                                                updated_at=timezone.now())
        tried.append(real(**arguments))
        return tried[-1]

    monkeypatch.setattr(stream_writes, "join_entity", another_stream_first)
    streamed = services.stream_record(source=source, key="p3-new", data=twin(source, "p3", "p3-new", first="edsgar"),
                                      user=engineer)
    assert tried == [False]
    (placement,) = streamed.placements
    assert placement.action == "joined" and placement.entity.pk == target.pk
    assert Membership.objects.filter(entity=target).count() == 2
    assert RunChange.objects.filter(entity_id=target.pk, kind=RunChange.Kind.GROWN).count() == 1
    target.refresh_from_db()
    (recomputed,) = golden.refresh_entities(entity_type, [target.pk])
    assert (target.size, target.golden) == (2, recomputed.golden)


def test_a_stranger_and_a_duplicate_leave_the_rows_a_recompute_and_lineage_expect(mastered, engineer):
    """The new entity's rows (entity, singleton membership, NEW change) and both Activities with their own links."""
    from lineage.models import ActivityObject

    entity_type, source = mastered
    streamed = services.stream_record(source=source, key="zz", data={"id": "zz", "first": "xavier", "last": "quintero",
                                                                      "city": "lima"}, user=engineer)
    entity = Entity.objects.get(pk=streamed.placements[0].entity.pk)
    assert (entity.size, entity.golden["last"], entity.pinned, entity.retired_at) == (1, "quintero", False, None)
    assert Membership.objects.get(record=streamed.record).reason == Membership.Reason.SINGLETON
    change = RunChange.objects.get(entity_id=entity.pk)
    assert (change.kind, change.added, change.user, change.golden_after) == (
        RunChange.Kind.NEW, [streamed.record.pk], engineer, entity.golden)
    ingest, placed = Activity.objects.filter(kind=Activity.Kind.STREAM).order_by("-id")[:2][::-1]
    assert "created" in ingest.summary and "new entity" in placed.summary
    assert placed.user == engineer and placed.parameters["model_version"] == entity_type.active_model.version

    def outputs(activity):
        return set(ActivityObject.objects.filter(activity=activity, role="output").values_list("object_id", flat=True))

    assert str(entity.pk) in outputs(placed) and str(entity.pk) not in outputs(ingest)
    assert str(streamed.record.pk) in outputs(ingest)

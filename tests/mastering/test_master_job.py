"""The batch mastering job end to end: entities, ids kept across runs, golden records, failures and cancellation."""

import importlib

import pytest

from lineage.models import Activity
from mastering import selectors, services
from mastering.models import (ClusterEdit, Entity, EntityType, Job, JobChunk, Membership, RecordBlockKey, RunChange, ScoredPair,
                              SourceRecord)
from mastering.services import entities as entity_services
from mastering.services import match_index
from mastering.services.master import incremental
from tests.factories import trained_entity_type, truth_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def person():
    return trained_entity_type(16)


def master(entity_type, capture) -> Job:
    with capture(execute=True):
        job = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    job.refresh_from_db()
    return job


def entities_by_person(entity_type) -> dict[str, str]:
    return {truth_of(m.record): str(m.entity_id) for m in Membership.objects.filter(entity_type=entity_type).select_related("record")}


def test_master_job_builds_entities_golden_records_and_lineage(person, django_capture_on_commit_callbacks):
    entity_type, source = person
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE, job.error
    assert Membership.objects.filter(entity_type=entity_type).count() == SourceRecord.objects.filter(source=source).count()
    by_record = {m.record.key: str(m.entity_id) for m in Membership.objects.select_related("record")}
    assert by_record["p0"] == by_record["p0-dup"] and by_record["p0"] != by_record["p1"]
    entity = Entity.objects.get(pk=by_record["p0"])
    assert entity.size == 2 and entity.golden["last"] == "lovelace"
    assert entity.provenance["last"]["rule"] == "most_frequent" and entity.provenance["last"]["version"] == 1
    assert job.counts["new"] == job.counts["entities"] == Entity.objects.live().count()
    assert {"computing blocking keys", "pairing on blocking keys", "clustering", "golden records"} <= set(job.timings)
    assert job.counts["pairs"] == ScoredPair.objects.filter(job=job).count() > 0
    assert job.counts["per_predicate"][0]["pairs"] >= 0
    assert Activity.objects.filter(kind=Activity.Kind.MASTER).count() == 1


def memberships(entity_type) -> set[tuple]:
    return set(Membership.objects.filter(entity_type=entity_type).values_list("record_id", "entity_id", "confidence", "reason"))


def test_rerun_with_the_same_data_and_model_changes_nothing(person, django_capture_on_commit_callbacks):
    entity_type, _ = person
    first = master(entity_type, django_capture_on_commit_callbacks)
    before, members = entities_by_person(entity_type), memberships(entity_type)
    golden = dict(Entity.objects.values_list("pk", "golden"))
    index = set(RecordBlockKey.objects.values_list("model", "predicate", "block", "record", "source"))
    second = master(entity_type, django_capture_on_commit_callbacks)
    assert second.status == Job.Status.DONE, second.error
    assert entities_by_person(entity_type) == before and memberships(entity_type) == members
    assert dict(Entity.objects.values_list("pk", "golden")) == golden
    assert second.counts["unchanged"] == second.counts["entities"] and second.counts["new"] == 0
    assert not RunChange.objects.filter(job=second).exists()
    # Nothing was blocked or scored again: the index is as it was and every pair kept the first run's score.
    assert second.counts["incremental_from"] == first.pk and second.counts["changed_records"] == 0
    assert second.counts["pairs_scored"] == 0 and second.counts["pairs_reused"] == first.counts["pairs"] > 0
    assert not JobChunk.objects.filter(job=second).exists()
    assert set(RecordBlockKey.objects.values_list("model", "predicate", "block", "record", "source")) == index
    assert sorted(ScoredPair.objects.filter(job=second).values_list("left", "right", "score")) == \
        sorted(ScoredPair.objects.filter(job=first).values_list("left", "right", "score"))


def move_p4_to_milano(source, engineer):
    """One changed record between two runs: p4's city. Returns p4."""
    record = SourceRecord.objects.get(source=source, key="p4")
    services.upsert_record(source=source, key="p4", data={**record.data, "city": "milano"}, user=engineer)
    return record


def test_a_rerun_scores_only_pairs_of_changed_records_and_pairs_as_a_full_run_would(
        person, django_capture_on_commit_callbacks, engineer, monkeypatch):
    entity_type, source = person
    first = master(entity_type, django_capture_on_commit_callbacks)
    record = move_p4_to_milano(source, engineer)
    second = master(entity_type, django_capture_on_commit_callbacks)
    assert second.counts["incremental_from"] == first.pk and second.counts["changed_records"] == 1
    pairs = set(ScoredPair.objects.filter(job=second).values_list("left", "right", "score"))
    rescored = {(left, right) for left, right, _ in pairs} - set(ScoredPair.objects.filter(job=first).values_list("left", "right"))
    assert 0 < second.counts["pairs_scored"] < second.counts["pairs"] == len(pairs)
    assert all(record.pk in pair for pair in rescored)
    monkeypatch.setattr(incremental, "INCREMENTAL_SHARE", -1.0)  # the same data through the full path
    index_rows = set(RecordBlockKey.objects.values_list("model", "predicate", "block", "record", "source"))
    changes = []
    index_run_slice = match_index.index_run_slice
    monkeypatch.setattr(match_index, "index_run_slice", lambda **kwargs: changes.append(index_run_slice(**kwargs)) or changes[-1])
    third = master(entity_type, django_capture_on_commit_callbacks)
    assert "blocking (sum over 1 chunks)" in third.timings
    # Re-blocked, but nothing rewritten.
    assert changes and not any(change.added or change.removed for change in changes)
    assert set(RecordBlockKey.objects.values_list("model", "predicate", "block", "record", "source")) == index_rows
    assert set(ScoredPair.objects.filter(job=third).values_list("left", "right", "score")) == pairs
    assert third.counts["pairs_scored"] == 0 and not RunChange.objects.filter(job=third).exists()


def test_one_changed_record_keeps_every_other_id(person, django_capture_on_commit_callbacks, engineer):
    entity_type, source = person
    master(entity_type, django_capture_on_commit_callbacks)
    before = entities_by_person(entity_type)
    record = move_p4_to_milano(source, engineer)
    second = master(entity_type, django_capture_on_commit_callbacks)
    after = entities_by_person(entity_type)
    assert {k: v for k, v in after.items() if k != "p4"} == {k: v for k, v in before.items() if k != "p4"}
    p4_entity = Membership.objects.get(record=record).entity_id
    assert set(RunChange.objects.filter(job=second).values_list("entity_id", flat=True)) <= {
        p4_entity, *Membership.objects.filter(record__key="p4-dup").values_list("entity_id", flat=True)}
    assert RunChange.objects.filter(job=second, entity_id=p4_entity).exists()


def test_a_merge_edit_retires_an_id_that_then_leads_to_the_survivor(person, django_capture_on_commit_callbacks, api_for, curator):
    entity_type, _ = person
    master(entity_type, django_capture_on_commit_callbacks)
    ids = entities_by_person(entity_type)
    survivor, merged = Entity.objects.get(pk=ids["p0"]), Entity.objects.get(pk=ids["p1"])
    records = list(Membership.objects.filter(entity__in=[survivor, merged]).values_list("record_id", flat=True))
    ClusterEdit.objects.create(entity_type=entity_type, kind=ClusterEdit.Kind.MERGE, entity=survivor, records=records,
                               other_entities=[str(merged.pk)], reason="same person", user=curator)
    job = master(entity_type, django_capture_on_commit_callbacks)
    merged.refresh_from_db()
    assert merged.retired_at is not None and merged.retired_into_id == survivor.pk
    assert job.counts["retired"] == 1 and job.counts["merged"] == 1
    response = api_for(curator).get(f"/api/entity-types/{entity_type.slug}/entities/{merged.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(survivor.pk) and response.json()["redirected_from"] == str(merged.pk)
    assert len(response.json()["members"]) == len(records)


def test_running_a_job_twice_is_a_no_op(person, django_capture_on_commit_callbacks):
    entity_type, _ = person
    job = master(entity_type, django_capture_on_commit_callbacks)
    count = Entity.objects.count()
    assert services.run_job(job_id=job.pk).status == Job.Status.DONE
    from mastering.services import master as master_service

    master_service.finish_master(job_id=job.pk)
    assert Entity.objects.count() == count and Membership.objects.count() == Membership.objects.values("record").distinct().count()


def test_a_worker_dying_mid_write_leaves_nothing_half_written_and_a_rerun_completes(person, django_capture_on_commit_callbacks, monkeypatch):
    entity_type, _ = person
    from mastering.services.master import finish as finish_stage

    def die(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(finish_stage, "_membership_writes", die)
    with pytest.raises(SystemExit):
        master(entity_type, django_capture_on_commit_callbacks)
    assert Entity.objects.count() == 0 and Membership.objects.count() == 0
    dead = Job.objects.get(kind=Job.Kind.MASTER)  # the table that made the records was an ingest job
    assert dead.status == Job.Status.RUNNING  # as a killed worker leaves it
    monkeypatch.undo()
    Job.objects.filter(pk=dead.pk).update(heartbeat_at=dead.heartbeat_at - services.jobs.STALE_AFTER * 2)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE
    assert Membership.objects.count() == SourceRecord.objects.count()
    assert Entity.objects.live().count() == job.counts["entities"]
    dead.refresh_from_db()
    assert dead.status == Job.Status.FAILED


def test_a_worker_dying_while_a_batch_is_written_in_the_background_leaves_nothing(
        person, django_capture_on_commit_callbacks, monkeypatch):
    """Batches are inserted from a thread while the next is computed: a death then still rolls every batch back."""
    entity_type, _ = person
    from mastering.services.master import finish as finish_stage

    real_compute = finish_stage._compute_batch
    computed = []

    def die_on_the_third(*args, **kwargs):
        computed.append(1)
        if len(computed) == 3:  # the first batch written, the second one's inserts under way
            raise SystemExit("worker killed")
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(finish_stage, "RECORDS_PER_BATCH", 3)
    monkeypatch.setattr(finish_stage, "RECORDS_PER_BATCH_SQLITE", 3)
    monkeypatch.setattr(finish_stage, "_compute_batch", die_on_the_third)
    with pytest.raises(SystemExit):
        master(entity_type, django_capture_on_commit_callbacks)
    assert not Entity.objects.exists() and not Membership.objects.exists()
    assert not RunChange.objects.exists()
    monkeypatch.undo()
    dead = Job.objects.get(kind=Job.Kind.MASTER)
    Job.objects.filter(pk=dead.pk).update(heartbeat_at=dead.heartbeat_at - services.jobs.STALE_AFTER * 2)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE
    assert Membership.objects.count() == SourceRecord.objects.count()
    assert RunChange.objects.filter(job=job, kind=RunChange.Kind.NEW).count() == Entity.objects.live().count()


def test_cancelling_a_running_master_job_stops_it(person, django_capture_on_commit_callbacks, monkeypatch):
    entity_type, _ = person
    from mastering.services.master import blocking

    original = blocking._pair_records

    def pair_then_cancel(job, *args, **kwargs):
        report = original(job, *args, **kwargs)
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        return report

    monkeypatch.setattr(blocking, "_pair_records", pair_then_cancel)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.CANCELLED
    assert not Entity.objects.exists()


def test_master_without_a_model_fails_with_a_clear_message(django_capture_on_commit_callbacks):
    from tests.factories import entity_type_with_records

    entity_type, _ = entity_type_with_records(6)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED and "has no model yet" in job.error


def test_entities_csv_is_safe_against_formula_injection(person, django_capture_on_commit_callbacks, api_for, business_user, engineer):
    entity_type, source = person
    services.upsert_record(source=source, key="p2", data={"first": "=cmd|' /C calc'!A0", "last": "knuth", "city": "rome"}, user=engineer)
    master(entity_type, django_capture_on_commit_callbacks)
    response = api_for(business_user).get(f"/api/entity-types/{entity_type.slug}/entities/?format=csv")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].startswith("id,golden.first,golden.last,golden.city,size,confidence,pinned,members")
    assert "'=cmd" in text and ",=cmd" not in text
    memberships = b"".join(api_for(business_user).get(f"/api/entity-types/{entity_type.slug}/memberships/?format=csv").streaming_content).decode()
    assert memberships.splitlines()[0] == "entity_id,source,key,reason,confidence,job_id,model_version"
    assert len(memberships.splitlines()) == SourceRecord.objects.count() + 1


def test_business_users_read_entities_but_cannot_start_jobs(person, django_capture_on_commit_callbacks, api_for, client_for, business_user, curator):
    entity_type, _ = person
    master(entity_type, django_capture_on_commit_callbacks)
    api = api_for(business_user)
    listed = api.get(f"/api/entity-types/{entity_type.slug}/entities/?size_min=2").json()
    assert listed["count"] >= 1 and all(len(e["members"]) >= 2 for e in listed["results"])
    assert api.post(f"/api/entity-types/{entity_type.slug}/jobs/", {"kind": "master"}, format="json").status_code == 403
    assert client_for(business_user).post(f"/entities/{entity_type.slug}/jobs/", {"kind": "master"}).status_code == 403
    page = client_for(business_user).get(f"/entities/{entity_type.slug}/?q=lovelace")
    assert page.status_code == 200 and "lovelace" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        started = api_for(curator).post(f"/api/entity-types/{entity_type.slug}/jobs/", {"kind": "master"}, format="json")
    assert started.status_code == 202


def test_entity_filters(person, django_capture_on_commit_callbacks, api_for, business_user):
    entity_type, source = person
    master(entity_type, django_capture_on_commit_callbacks)
    api = api_for(business_user)
    base = f"/api/entity-types/{entity_type.slug}/entities/"
    total = api.get(base).json()["count"]
    assert api.get(base + f"?source={source.slug}").json()["count"] == total
    assert api.get(base + "?source=nope").json()["count"] == 0
    assert api.get(base + "?changed_in_last_run=true").json()["count"] == total
    singles = api.get(base + "?size_max=1").json()["count"]
    assert 0 < singles < total
    low = api.get(base + "?confidence_max=0.99&ordering=confidence").json()["results"]
    assert all(e["confidence"] <= 0.99 for e in low)


def spy_on_clustering(monkeypatch) -> list[float]:
    """The thresholds the finish stage clusters at."""
    from mastering import engine

    used, cluster_pairs = [], engine.cluster_pairs

    def spy(pairs, *, threshold, **kwargs):
        used.append(threshold)
        return cluster_pairs(pairs, threshold=threshold, **kwargs)

    monkeypatch.setattr(engine, "cluster_pairs", spy)
    return used


def test_a_type_without_a_threshold_clusters_at_its_models_own(person, django_capture_on_commit_callbacks, monkeypatch):
    from mastering import engine

    entity_type, _ = person
    assert entity_type.match_threshold is None  # the default: the model decides
    model = entity_type.active_model
    own = engine.Matcher.from_settings(bytes(model.learned_settings)).threshold
    used = spy_on_clustering(monkeypatch)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE, job.error
    assert used == [own] and job.counts["threshold"] == own
    activity = Activity.objects.get(kind=Activity.Kind.MASTER)
    assert activity.parameters["threshold"] == own and activity.parameters["threshold_from"] == "model"
    assert selectors.match_threshold_for(entity_type=entity_type, model=model) == own


def test_a_type_with_a_threshold_clusters_at_it(person, django_capture_on_commit_callbacks, monkeypatch, steward):
    entity_type, _ = person
    entity_type = entity_services.set_threshold(entity_type=entity_type, threshold=0.7, user=steward)
    used = spy_on_clustering(monkeypatch)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert used == [0.7] and job.counts["threshold"] == 0.7
    activity = Activity.objects.get(kind=Activity.Kind.MASTER)
    assert activity.parameters["threshold"] == 0.7 and activity.parameters["threshold_from"] == "entity type"
    assert "clustered above 0.7" in activity.summary


def test_clearing_a_types_threshold_goes_back_to_the_models(person, steward, client_for):
    entity_type, _ = person
    entity_services.set_threshold(entity_type=entity_type, threshold=0.7, user=steward)
    entity_type = entity_services.set_threshold(entity_type=entity_type, threshold=None, user=steward)
    assert entity_type.match_threshold is None
    assert Activity.objects.filter(summary=f"{entity_type.name}: threshold 0.7 → the model's own").exists()
    page = client_for(steward).get(entity_type.get_absolute_url()).content.decode()
    assert "0.5 <span class=\"muted small\">(model v1's own)</span>" in page


def test_without_a_model_or_a_threshold_there_is_none_to_say(db):
    entity_type = EntityType.objects.create(name="Thing", slug="thing")
    assert entity_type.match_threshold is None
    assert selectors.match_threshold_for(entity_type=entity_type, model=None) is None


def test_migration_leaves_chosen_thresholds_and_hands_default_ones_to_the_model(db):
    from django.apps import apps

    migration = importlib.import_module("mastering.migrations.0008_entity_type_threshold_from_model")
    at_default = EntityType.objects.create(name="A", slug="a", match_threshold=0.4)
    chosen = EntityType.objects.create(name="B", slug="b", match_threshold=0.65)
    migration.default_thresholds_to_model(apps, None)
    at_default.refresh_from_db()
    chosen.refresh_from_db()
    assert (at_default.match_threshold, chosen.match_threshold) == (None, 0.65)
    migration.blank_thresholds_to_old_default(apps, None)
    at_default.refresh_from_db()
    assert at_default.match_threshold == 0.4


def test_job_page_shows_each_blocking_rule_with_its_pairs_and_known_matches(person, django_capture_on_commit_callbacks, client_for, curator):
    entity_type, _ = person
    job = master(entity_type, django_capture_on_commit_callbacks)
    rows = selectors.blocking_report(job=job)
    trained = {r["rule"]: r for r in job.model.metrics["rules"]}
    assert rows and {row["predicate"] for row in rows} <= set(trained)
    assert all(0 <= row["matches_compared"] <= 1 for row in rows)
    page = client_for(curator).get(job.get_absolute_url()).content.decode()
    assert "Blocking rules" in page and rows[0]["predicate"] in page
    assert "per_predicate" not in page and "{&#x27;predicate&#x27;" not in page


def test_a_run_also_compares_nearest_neighbours_by_text_for_text_attributes(django_capture_on_commit_callbacks):
    entity_type, _ = trained_entity_type(16, comparators={"last": "Text"})
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE, job.error
    neighbours = job.counts["per_predicate"][-1]
    assert neighbours["predicate"] == "5 nearest neighbours by text of last" and neighbours["pairs"] > 0
    assert job.counts["pairs"] == ScoredPair.objects.filter(job=job).count()
    assert not ScoredPair.objects.filter(job=job, score__isnull=True).exists()  # every added pair was scored


def test_entity_type_page_charts_a_model_whose_recall_could_not_be_estimated(client_for, curator):
    entity_type, _ = trained_entity_type(8)
    entity_type.models.update(precision=0.9, recall=None)  # the estimate gives no recall when its range is too wide
    response = client_for(curator).get(entity_type.get_absolute_url())
    assert response.status_code == 200
    assert "estimated quality" in response.content.decode()


def test_golden_records_written_in_small_batches_equal_one_batch(person, django_capture_on_commit_callbacks, monkeypatch):
    """The finish reads and writes a batch of records at a time; batching changes nothing in the results."""
    from mastering.services.master import finish as finish_stage

    entity_type, _ = person
    master(entity_type, django_capture_on_commit_callbacks)
    whole = entities_by_person(entity_type)
    golden = {frozenset(Membership.objects.filter(entity_id=pk).values_list("record_id", flat=True)): values
              for pk, values in Entity.objects.live().values_list("pk", "golden")}
    Membership.objects.all().delete()
    RunChange.objects.all().delete()
    Entity.objects.all().delete()
    seen = []
    real_batch = finish_stage._read_batch

    def counted(*args, **kwargs):
        seen.append(len(args[6]))  # the batch's cluster indexes
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(finish_stage, "RECORDS_PER_BATCH", 3)
    monkeypatch.setattr(finish_stage, "RECORDS_PER_BATCH_SQLITE", 3)
    monkeypatch.setattr(finish_stage, "_read_batch", counted)
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE, job.error
    assert len(seen) > 3  # really in several batches
    assert entities_by_person(entity_type).keys() == whole.keys()
    assert {frozenset(Membership.objects.filter(entity_id=pk).values_list("record_id", flat=True)): values
            for pk, values in Entity.objects.live().values_list("pk", "golden")} == golden
    assert job.counts["new"] == job.counts["entities"] == Entity.objects.live().count() == len(golden)
    assert {"golden records CPU", "golden records: writes"} <= set(job.timings)


def test_a_rerun_after_a_retirement_drops_its_pairs_and_scores_nothing_else(person, django_capture_on_commit_callbacks, engineer):
    import io

    entity_type, source = person
    first = master(entity_type, django_capture_on_commit_callbacks)
    gone = SourceRecord.objects.get(source=source, key="p4-dup")
    kept = SourceRecord.objects.filter(source=source).exclude(pk=gone.pk)
    fields = list(gone.data)
    table = ",".join(fields) + "\n" + "\n".join(",".join(str(r.data.get(f, "")) for f in fields) for r in kept)
    services.receive_table(source=source, stream=io.BytesIO(table.encode()), file_name="snap.csv", user=engineer,
                           channel="api", background=False, mode="snapshot")
    second = master(entity_type, django_capture_on_commit_callbacks)
    assert second.status == Job.Status.DONE, second.error
    assert second.counts["incremental_from"] == first.pk and second.counts["retired_records"] == 1
    assert second.counts["pairs_scored"] == 0
    pairs = set(ScoredPair.objects.filter(job=second).values_list("left", "right"))
    assert pairs == {p for p in ScoredPair.objects.filter(job=first).values_list("left", "right") if gone.pk not in p}
    assert not Membership.objects.filter(record=gone).exists()
    assert not RecordBlockKey.objects.filter(record=gone.pk).exists()


def test_a_change_that_moves_the_block_size_cap_pairs_everything_again_without_reblocking(
        person, django_capture_on_commit_callbacks, engineer, monkeypatch):
    from mastering import engine

    entity_type, source = person
    first = master(entity_type, django_capture_on_commit_callbacks)
    move_p4_to_milano(source, engineer)
    cap = first.counts["per_predicate"][0]["block_size_cap"]
    monkeypatch.setattr(engine, "block_size_cap", lambda sizes, budget: cap + 1)
    second = master(entity_type, django_capture_on_commit_callbacks)
    assert second.status == Job.Status.DONE, second.error
    assert second.counts["incremental_from"] == first.pk and not JobChunk.objects.filter(job=second, stage="blocking").exists()
    assert {row["block_size_cap"] for row in second.counts["per_predicate"]} == {cap + 1}
    assert 0 < second.counts["pairs_scored"] < second.counts["pairs"] == ScoredPair.objects.filter(job=second).count()
    assert second.counts["pairs_reused"] + second.counts["pairs_scored"] == second.counts["pairs"]


def test_deleting_a_job_or_entity_type_nulls_or_removes_what_names_it(person, django_capture_on_commit_callbacks):
    """Entities', memberships' and run changes' references to jobs and entity types follow deletions."""
    entity_type, _ = person
    first = master(entity_type, django_capture_on_commit_callbacks)
    first_id = first.pk
    assert RunChange.objects.filter(job=first).exists()
    first.delete()
    assert not RunChange.objects.filter(job_id=first_id).exists()
    assert not Membership.objects.filter(job_id=first_id).exists() and Membership.objects.filter(job__isnull=True).exists()
    assert not Entity.objects.filter(created_job_id=first_id).exists()
    entity_type.delete()
    assert not Entity.objects.exists() and not Membership.objects.exists() and not RunChange.objects.exists()


def test_a_slice_keeps_a_key_a_streamed_record_wrote_after_the_slice_was_read(
        person, django_capture_on_commit_callbacks, monkeypatch):
    """The run reads a slice's index rows, then writes what is missing: a row a streamed record wrote in between
    is kept, and the run goes on (the table's primary key would otherwise fail the whole run)."""
    entity_type, _ = person
    master(entity_type, django_capture_on_commit_callbacks)
    rows = set(RecordBlockKey.objects.values_list("model", "predicate", "block", "record", "source"))
    monkeypatch.setattr(incremental, "INCREMENTAL_SHARE", -1.0)  # through the full path: every slice re-indexed
    monkeypatch.setattr(match_index, "_stored_rows", lambda *args: [])  # as if the slice held none of its rows yet
    job = master(entity_type, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.DONE, job.error
    assert set(RecordBlockKey.objects.values_list("model", "predicate", "block", "record", "source")) == rows

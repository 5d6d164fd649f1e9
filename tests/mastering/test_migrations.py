"""Migration 0013 gives every existing table batch its ingest job, carrying its status, times and heartbeat."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("mastering", "0012_ingest_jobs")]
AFTER = [("mastering", "0014_remove_ingestbatch_heartbeat_at")]


@pytest.mark.django_db(transaction=True)
def test_existing_table_batches_get_their_ingest_jobs():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    source = apps.get_model("mastering", "Source").objects.create(name="Notes", slug="notes", key_field="id")
    batches = apps.get_model("mastering", "IngestBatch").objects
    beat = timezone.now()
    done = batches.create(source=source, channel="api", status="succeeded", received=3, created=2, unchanged=1,
                          rows_read=3, started_at=beat, finished_at=beat, timings={"total_s": 0.5})
    running = batches.create(source=source, channel="upload", status="running", started_at=beat, heartbeat_at=beat)
    rejected = batches.create(source=source, channel="api", status="rejected", rejected=1)
    streamed = batches.create(source=source, channel="stream", status="succeeded", received=1, created=1)
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        jobs = {batch.pk: batch.job for batch in apps.get_model("mastering", "IngestBatch").objects.select_related("job")}
        assert jobs[streamed.pk] is None  # written inside its request: no lifecycle to carry over
        assert (jobs[done.pk].kind, jobs[done.pk].status, jobs[done.pk].source_id) == ("ingest", "done", source.pk)
        assert jobs[done.pk].counts["created"] == 2 and jobs[done.pk].timings == {"total_s": 0.5}
        assert (jobs[running.pk].status, jobs[running.pk].heartbeat_at) == ("running", beat)  # the sweep will judge it
        assert jobs[rejected.pk].status == "done" and jobs[rejected.pk].entity_type_id is None
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_match_index_keeps_its_rows_when_its_lookup_becomes_the_primary_key_and_back():
    before, after = [("mastering", "0018_run_record")], [("mastering", "0019_match_index_natural_key")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    entity_type = apps.get_model("mastering", "EntityType").objects.create(name="Person", slug="person")
    model = apps.get_model("mastering", "MatchModel").objects.create(entity_type=entity_type, version=1, learned_settings=b"")
    keys = apps.get_model("mastering", "RecordBlockKey").objects
    rows = [(0, -5, 10, 1), (0, 7, 10, 1), (1, 7, 11, 1), (2, 2**62, 10, 2)]
    for predicate, block, record, source in rows + [(3, 7, 10, 1)]:  # the last: a collision of two rules' hashes
        keys.create(entity_type=entity_type, model=model, predicate=predicate, block=block, record=record, source=source)

    def stored(apps):
        return sorted(apps.get_model("mastering", "RecordBlockKey").objects.values_list("predicate", "block", "record", "source"))

    try:
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        apps = executor.loader.project_state(after).apps
        assert stored(apps) == sorted(rows)  # the older of the colliding rows stays
        table = apps.get_model("mastering", "RecordBlockKey")
        assert table.objects.get(pk=(model.pk, 7, 11)).predicate == 1
        # A row whose entity type went while no constraint checked it: going back must not stop at it.
        table.objects.create(entity_type_id=entity_type.pk + 1000, model_id=model.pk, predicate=0, block=9, record=12, source=1)
        executor = MigrationExecutor(connection)
        executor.migrate(before)
        apps = executor.loader.project_state(before).apps
        assert stored(apps) == sorted(rows)
        assert len(set(apps.get_model("mastering", "RecordBlockKey").objects.values_list("id", flat=True))) == len(rows)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

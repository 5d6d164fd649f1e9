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

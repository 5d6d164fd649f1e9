"""A worker killed in the middle of a mastering run: the next worker fails the run at once and a new one succeeds."""

import os

import pytest
from django.conf import settings

from benchmarks.kill_worker import kill_and_recover, start_worker
from mastering.models import Job
from tests.factories import trained_entity_type
from tests.integration.conftest import _database_url

pytestmark = pytest.mark.django_db(transaction=True)


def test_killed_worker_mid_run_is_failed_and_a_new_run_succeeds_within_60_seconds(django_db_setup, tmp_path):
    if not settings.CELERY_BROKER_URL:
        pytest.skip("CELERY_BROKER_URL is not set: integration tests need a real broker (see .ci/run).")
    url = _database_url()
    if not url:
        pytest.skip("DATABASE_URL is not PostgreSQL: integration tests need the real database (see .ci/run).")
    entity_type, _ = trained_entity_type(500)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "steward.settings",
           "STEWARD_DATA_DIR": str(settings.DATA_DIR)}
    # Killed while scoring: chunks fanned out over the worker's processes die with it, others wait in the queue.
    result = kill_and_recover(entity_type=entity_type, runs=1, timeout=60, stages=("score_pairs",),
                              start=lambda name: start_worker(env, tmp_path / f"{name}.log", name=f"{name}-{os.getpid()}"))
    print(result)
    assert result["missed_kills"] == 0 and result["killed_in"] == ["score_pairs 0"], result
    assert result["stuck_jobs"] == 0, result
    assert result["duplicated_entities"] == 0, result
    assert result["slow_recoveries"] == 0 and result["recovery_seconds_max"] < 60, result
    old, new = Job.objects.filter(entity_type=entity_type).order_by("pk")
    assert old.status == Job.Status.FAILED and "Its worker was lost" in old.error
    assert new.status == Job.Status.DONE
    assert not old.holds.exists() and not new.holds.exists()

"""A real Celery worker, in its own process, on the real broker and the test database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def _database_url() -> str:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return ""
    user = database.get("USER") or "postgres"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    host = database.get("HOST") or "127.0.0.1"
    port = database.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{database['NAME']}"


@pytest.fixture
def celery_worker_process(django_db_setup, tmp_path_factory):
    """Start `celery worker` against the test database; skip when no broker or no PostgreSQL is configured.

    One worker per test: flushing the database between transactional tests gives content types new ids,
    which a long-lived worker would still have cached.
    """
    if not settings.CELERY_BROKER_URL:
        pytest.skip("CELERY_BROKER_URL is not set: integration tests need a real broker (see .ci/run).")
    url = _database_url()
    if not url:
        pytest.skip("DATABASE_URL is not PostgreSQL: integration tests need the real database (see .ci/run).")
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "steward.settings",
           "STEWARD_DATA_DIR": str(settings.DATA_DIR)}
    handle = open(log, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "steward", "worker", "--loglevel=INFO", "--concurrency=2",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    handle.close()


def wait_for(predicate, *, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")

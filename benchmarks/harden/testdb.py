"""Django set up for a probe, and a throwaway test database that is dropped afterwards."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def setup_django() -> None:
    """Configure settings for probing (production-like: DEBUG off, no broker) and call django.setup()."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
    os.environ.setdefault("SECRET_KEY", "harden-probe-only-key-not-for-any-deployment-0123456789")
    os.environ.setdefault("STEWARD_HTTPS", "false")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
    os.environ.setdefault("DEBUG", "false")
    # Uploads, the SQLite files and collected static stay out of the work tree.
    if "STEWARD_DATA_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="steward-harden-")
        os.environ["STEWARD_DATA_DIR"] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
    # Tasks run in-process: the probes must not depend on, or write to, a running worker.
    os.environ["CELERY_BROKER_URL"] = ""
    import django

    django.setup()


@contextmanager
def throwaway_database() -> Iterator[None]:
    """Create the test database (migrated, empty), yield, and drop it, as Django's test runner does."""
    from django.conf import settings
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases, teardown_test_environment

    setup_test_environment(debug=False)
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        # A file, not memory, so a live server's threads see the same data.
        database.setdefault("TEST", {})["NAME"] = str(Path(settings.DATA_DIR) / "harden-test.sqlite3")
    old = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        teardown_databases(old, verbosity=0)
        teardown_test_environment()

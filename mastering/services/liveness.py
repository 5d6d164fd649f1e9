"""Telling a dead worker's work from slow work: whatever runs stamps heartbeat_at every minute."""

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 60
# Running work that has not stamped its heartbeat for this long is presumed dead (its worker was killed).
STALE_AFTER = timedelta(minutes=10)


def stale_before() -> datetime:
    return timezone.now() - STALE_AFTER


@contextlib.contextmanager
def keep_alive(rows: QuerySet, every: float | None = None) -> Iterator[None]:
    """Stamp heartbeat_at on rows (say, one running job) every HEARTBEAT_EVERY seconds from a thread while a step runs.

    The thread has its own connection, so the stamp shows even while the step's transaction is open.
    """
    every = HEARTBEAT_EVERY if every is None else every
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    rows.update(heartbeat_at=timezone.now())
                except DatabaseError:  # a busy SQLite file, say: the next beat will do
                    logger.warning("Could not stamp a heartbeat on %s", rows.model.__name__, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"{rows.model.__name__.lower()}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)

"""Telling a dead worker's work from slow work.

Whatever runs stamps heartbeat_at every minute (the slow backstop: 10 minutes of silence). A job's tasks also
hold it (JobHold rows naming their process) while they run, so a job whose process is gone is known at once:
on the same host by the process id, elsewhere by asking the broker which Celery workers answer.
"""

import contextlib
import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import QuerySet
from django.utils import timezone

logger = logging.getLogger(__name__)

# Seconds to wait for Celery workers to answer "who is alive" (only asked about holders on other hosts).
INSPECT_TIMEOUT = 1.5

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


@dataclass
class _Worker:
    node: str = ""  # Celery node name, set in a worker's main process (and inherited by its pool's children)
    pid: int | None = None


_worker = _Worker()


def set_worker(*, node: str, pid: int) -> None:
    """Remember that this process is (the main process of) a Celery worker node."""
    _worker.node, _worker.pid = node, pid


def this_host() -> str:
    """This host's name and process namespace: process ids compare only within one namespace."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()} {namespace}".strip()


@contextlib.contextmanager
def holding(job, task: str) -> Iterator[None]:
    """Hold the job for this process while a task of it runs, so that a process that dies in it is noticed."""
    from mastering.models import JobHold

    hold = JobHold.objects.create(job=job, task=task[:100], host=this_host(), pid=os.getpid(),
                                  node=_worker.node, node_pid=_worker.pid)
    try:
        yield
    finally:
        try:
            JobHold.objects.filter(pk=hold.pk).delete()
        except DatabaseError:  # left behind, it names a live process, which the next check sees as such
            logger.warning("Could not release hold %s on job %s", hold.pk, job.pk, exc_info=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, but alive
    return True


def live_nodes() -> set[tuple[str, int]] | None:
    """(node name, main process id) of every Celery worker answering the broker now; None when nobody can say."""
    if not settings.CELERY_BROKER_URL:
        return None
    from steward.celery import app

    try:
        replies = app.control.inspect(timeout=INSPECT_TIMEOUT).stats() or {}
    except Exception:  # the broker is down: nothing is known, so nothing is presumed dead
        logger.warning("Could not ask the broker which workers are alive", exc_info=True)
        return None
    return {(node, stats.get("pid")) for node, stats in replies.items()}


def dead_holds(holds: Iterable) -> list:
    """The holds whose process is gone: on this host, no such process; elsewhere, its worker does not answer.

    A worker on another host that the broker cannot vouch for (no broker, no answer at all) counts as alive:
    a job is failed only on evidence, and the 10-minute heartbeat sweep remains for the rest.
    """
    host = this_host()
    dead, remote = [], []
    for hold in holds:
        if hold.host == host:
            # A pool process outliving its killed worker gets no more of the job's messages: gone as well.
            if not _process_exists(hold.pid) or (hold.node_pid and not _process_exists(hold.node_pid)):
                dead.append(hold)
        elif hold.node:
            remote.append(hold)
    if remote:
        nodes = live_nodes()
        if nodes:
            dead += [hold for hold in remote if (hold.node, hold.node_pid) not in nodes]
    return dead

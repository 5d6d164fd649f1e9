"""Celery worker signals: a worker names itself for the holds its tasks write, yields the CPU to web requests,
and on start fails lost jobs."""

import logging
import os
import threading

from django.db import connection

logger = logging.getLogger(__name__)


def remember_worker(sender, **kwargs) -> None:
    """worker_init, in the worker's main process before its pool forks: its node name and process id."""
    from mastering.services.liveness import set_worker

    set_worker(node=sender.hostname, pid=os.getpid())


def lower_worker_priority(sender=None, **kwargs) -> None:
    """worker_init, before the pool forks (its processes inherit it): background work yields to web requests."""
    from django.conf import settings

    if settings.STEWARD_WORKER_NICENESS > 0:
        os.nice(settings.STEWARD_WORKER_NICENESS)


def fail_lost_jobs_on_start(sender, **kwargs) -> None:
    """worker_ready: a (re)started worker fails the jobs a dead worker was running, so they can be started again.

    In a thread: asking the broker which workers are alive must not hold up this worker's own consumer.
    """

    def sweep() -> None:
        from mastering.services.jobs import fail_lost_jobs

        try:
            failed = fail_lost_jobs()
            if failed:
                logger.warning("Failed jobs whose worker was lost: %s", ", ".join(map(str, failed)))
        except Exception:
            logger.exception("Could not look for jobs whose worker was lost")
        finally:
            connection.close()

    threading.Thread(target=sweep, name="fail-lost-jobs", daemon=True).start()

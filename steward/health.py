"""Health checks behind /healthz (public, so they say what is down, not why: details go to the log)."""

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def check_database(connection) -> dict:
    """Run a trivial query on the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any failure means unhealthy
        logger.exception("Health check: database unreachable")
        return {"ok": False, "detail": "unreachable"}
    return {"ok": True, "detail": connection.vendor}


def check_broker() -> dict:
    """Connect to the Celery broker; with none configured tasks run in-process, which is healthy."""
    if not settings.CELERY_BROKER_URL:
        return {"ok": True, "detail": "none configured: tasks run in-process"}
    from steward.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:
        logger.exception("Health check: broker unreachable")
        return {"ok": False, "detail": "unreachable"}
    return {"ok": True, "detail": "connected"}

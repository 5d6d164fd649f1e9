"""Health checks behind /healthz."""

from django.conf import settings


def check_database(connection) -> dict:
    """Run a trivial query on the default database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means unhealthy; say which
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "detail": connection.vendor}


def check_broker() -> dict:
    """Connect to the Celery broker; with none configured tasks run in-process, which is healthy."""
    if not settings.CELERY_BROKER_URL:
        return {"ok": True, "detail": "none configured: tasks run in-process"}
    from steward.celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "detail": conn.transport_cls if isinstance(conn.transport_cls, str) else "connected"}

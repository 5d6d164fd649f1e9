"""Errors that services raise when a business rule says no."""


class ServiceError(Exception):
    """A rule violation with a message fit to show a user; the API maps it to 409."""

    status_code = 409

    def __init__(self, message: str, *, problems: list | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class InvalidInput(ServiceError):
    """The caller's data cannot be accepted as it is; the API maps it to 400."""

    status_code = 400


class NotFound(ServiceError):
    status_code = 404


class NotAllowed(ServiceError):
    """A rule in an app's rules.py says this user may not do this to this object; the API maps it to 403."""

    status_code = 403


class Busy(ServiceError):
    """Someone else holds what the call needs for now; the API maps it to 503 with a Retry-After."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after


# Seconds a client is asked to wait after a write gave up waiting for the database.
LOCKED_RETRY_AFTER = 5


def busy_from_lock_timeout(exc: BaseException) -> Busy | None:
    """A Busy for a write that gave up waiting for another write's lock, else None.

    SQLite says "database is locked" when its busy timeout runs out (the whole file has one writer at a time);
    PostgreSQL raises lock_not_available (55P03) when a lock_timeout runs out.
    """
    from django.db import OperationalError

    if not isinstance(exc, OperationalError):
        return None
    text = str(exc).lower()
    cause = getattr(exc, "__cause__", None)
    if "database is locked" in text or "database table is locked" in text or \
            getattr(cause, "sqlstate", None) == "55P03" or "lock timeout" in text:
        return Busy("Steward's database is busy with another write. Try again in a few seconds.",
                    retry_after=LOCKED_RETRY_AFTER)
    return None

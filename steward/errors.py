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


class Busy(ServiceError):
    """Someone else holds what the call needs for now; the API maps it to 503 with a Retry-After."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after

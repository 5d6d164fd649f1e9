"""API errors are JSON with a readable `detail`, plus `problems` where there are several."""

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from steward.errors import Busy, ServiceError, busy_from_lock_timeout


def first_message(detail) -> str:
    """The first problem of a serializer's errors in one line ("field: message"): the API's `detail`, which a page
    that validates with the same serializer shows too."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = first_message(value)
            return message if field in ("non_field_errors", "detail") else f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return first_message(detail[0])
    return str(detail)


def exception_handler(exc, context):
    """Map service errors to 4xx (Busy and lock timeouts to 503) and give validation errors a one-line `detail`;
    errors are always JSON."""
    exc = busy_from_lock_timeout(exc) or exc
    if isinstance(exc, ServiceError):
        body = {"detail": exc.message}
        if exc.problems:
            body["problems"] = exc.problems
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        response = Response(body, status=exc.status_code, headers=headers)
    else:
        response = drf_exception_handler(exc, context)
        if response is not None and isinstance(exc, ValidationError):
            response.data = {"detail": first_message(exc.detail), "problems": exc.detail}
            response.status_code = status.HTTP_400_BAD_REQUEST
    request = context.get("request")
    if response is not None and getattr(getattr(request, "accepted_renderer", None), "format", None) == "csv":
        # A CSV download that fails says why in JSON, not as a one-row table.
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    return response

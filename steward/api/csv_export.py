"""Streaming CSV responses for lists that may be large."""

from collections.abc import Iterable

from django.http import StreamingHttpResponse
from rest_framework.request import Request

from steward.api.renderers import csv_lines


def wants_csv(request: Request) -> bool:
    return request.query_params.get("format") == "csv" or getattr(request.accepted_renderer, "format", "") == "csv"


def stream_csv(rows: Iterable[dict], *, header: list[str] | None, file_name: str) -> StreamingHttpResponse:
    """Every row as CSV, produced while it is sent; formulas escaped."""
    response = StreamingHttpResponse(csv_lines(rows, header=header), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_name}"'
    return response

"""Every list answers the same way: a page of JSON (count, next, previous, results), or with `?format=csv`
every matching row as streamed CSV whose header row is there even when nothing matches."""

from collections.abc import Callable, Iterable, Iterator

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from steward.api.csv_export import stream_csv, wants_csv
from steward.api.pagination import StandardPagination


def csv_columns(serializer: serializers.Serializer, prefix: str = "") -> list[str]:
    """The CSV header of a serializer's rows: nested objects become dotted columns (counts.received)."""
    columns = []
    for name, field in serializer.fields.items():
        if getattr(field, "write_only", False):
            continue
        if isinstance(field, serializers.Serializer):
            columns += csv_columns(field, f"{prefix}{name}.")
        else:
            columns.append(f"{prefix}{name}")
    return columns


def _each(items: Iterable) -> Iterator:
    return items.iterator(chunk_size=2000) if isinstance(items, QuerySet) else iter(items)


def list_response(request: Request, items: Iterable, *, view, serializer_class: type[serializers.Serializer] | None = None,
                  row: Callable | None = None, columns: list[str] | None = None, file_name: str = "list.csv",
                  extra: dict | None = None) -> Response:
    """Answer a list: `items` (a QuerySet or a list) shown by `serializer_class`, or by `row` for plain dicts.

    `extra` adds keys beside the page (a summary of the whole list); CSV leaves them out."""
    context = {"request": request, "view": view}
    if row is None:
        def row(item):
            return serializer_class(item, context=context).data
    if wants_csv(request):
        if columns is None:
            columns = csv_columns(serializer_class(context=context))
        return stream_csv((row(item) for item in _each(items)), header=columns, file_name=file_name)
    paginator = StandardPagination()
    page = paginator.paginate_queryset(items, request, view=view)
    response = paginator.get_paginated_response([row(item) for item in page])
    response.data.update(extra or {})
    return response


class StreamingCSVListMixin:
    """A viewset whose list streams `?format=csv` (every matching row, header first) instead of rendering it whole."""

    csv_file_name: str | None = None

    def list(self, request: Request, *args, **kwargs) -> Response:
        if not wants_csv(request):
            return super().list(request, *args, **kwargs)
        return list_response(request, self.filter_queryset(self.get_queryset()), view=self,
                             serializer_class=self.get_serializer_class(),
                             file_name=self.csv_file_name or f"{self.basename}.csv")

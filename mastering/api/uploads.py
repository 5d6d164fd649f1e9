"""Receiving a table over the API without holding it in memory."""

import contextlib
import io
from collections.abc import Iterator

from django.conf import settings
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from mastering.ingest.limits import TooLarge
from steward.errors import InvalidInput

RAW_TYPES = {"text/csv": "table.csv", "application/json": "table.json", "application/x-ndjson": "table.jsonl",
             "application/jsonl": "table.jsonl", "text/plain": "table.csv"}


class RawTableParser(BaseParser):
    """Declares the raw table media types; the view reads the body stream itself."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


def refuse_if_too_large(request, limit: int | None = None) -> None:
    """413 from the Content-Length header alone, before any of the body is read."""
    limit = limit or settings.STEWARD_MAX_UPLOAD_BYTES
    length = request.META.get("CONTENT_LENGTH") or "0"
    # Multipart framing adds a little; the file itself is checked again while it is copied.
    if length.isdigit() and int(length) > limit + 64 * 1024:
        raise TooLarge(limit)


@contextlib.contextmanager
def incoming_table(request: Request) -> Iterator[tuple[io.BufferedIOBase, str]]:
    """The table's byte stream and file name, from a multipart file or the raw body; 413 if too large."""
    refuse_if_too_large(request)
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Send the table as a multipart field named 'file'.")
        with upload.open("rb") as stream:
            yield stream, upload.name
        return
    if content_type not in RAW_TYPES:
        raise InvalidInput(
            f"Unsupported content type {content_type or '(none)'}: send multipart 'file', text/csv, "
            "application/json (an array of objects) or application/x-ndjson."
        )
    yield request._request, RAW_TYPES[content_type]

"""CSV out, safe to open in a spreadsheet."""

import csv
import io
import json
from collections.abc import Iterable, Iterator

from rest_framework.renderers import BaseRenderer

# Cells starting with these run as formulas in spreadsheets (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(value: object) -> object:
    """Prefix a cell that a spreadsheet would run as a formula with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value: object) -> object:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""
    return escape_formula(value)


def flatten(row: dict, prefix: str = "") -> dict:
    """Nested objects become dotted columns (golden.name); lists stay JSON in one cell."""
    flat: dict = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def csv_lines(rows: Iterable[dict], header: list[str] | None = None) -> Iterator[str]:
    """Yield CSV text a row at a time: the header (from the first row unless given), then cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if header is not None:
        writer.writerow(header)
        yield flush()
    for row in rows:
        flat = flatten(row)
        if header is None:
            header = list(flat)
            writer.writerow(header)
        writer.writerow([_cell(flat[column] if column in flat else _lookup(row, column)) for column in header])
        yield flush()


def _lookup(row: dict, column: str) -> object:
    """A named column's value: an object the header keeps in one cell (parameters) is one JSON cell."""
    value: object = row
    for part in column.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class SafeCSVRenderer(BaseRenderer):
    """`?format=csv` on any list: every matching row, flattened, formulas escaped."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, dict) and "results" in data:
            data = data["results"]
        if isinstance(data, dict):
            data = [data]
        return "".join(csv_lines(data or [])).encode("utf-8")

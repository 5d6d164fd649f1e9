"""Arrow tables as the bytes of PostgreSQL's COPY text format.

Text rather than csv: JSON documents are full of double quotes, which csv would have to double and
the server to undouble, a quarter of a first load's server time. Built a column at a time in Arrow.
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastering.ingest.documents import text_bytes

NULL = "\\N"
# Backslash first, so the escapes added after it are not escaped again.
ESCAPES = [("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")]


def copy_text(table: pa.Table) -> memoryview:
    """The table's rows, tab-separated, one per line, \\N for null: what `COPY ... FROM STDIN` reads by default."""
    pieces: list = []
    for index, column in enumerate(table.columns):
        if index:
            pieces.append("\t")
        pieces.append(_text_cells(column.combine_chunks()))
    pieces.append("\n")
    lines = pc.binary_join_element_wise(*pieces, "")
    if not len(lines):
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64 if pa.types.is_large_string(lines.type) else np.int32)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return memoryview(lines.buffers()[2])[start:end]


def _text_cells(column: pa.Array) -> pa.Array:
    if pa.types.is_boolean(column.type):
        column = pc.if_else(column, "t", "f")
    else:  # numbers, and text of any Arrow kind (large, view, dictionary), as plain strings to escape
        column = _escaped(column.cast(pa.string()) if not pa.types.is_string(column.type) else column)
    return pc.fill_null(column, NULL) if column.null_count else column


def _escaped(column: pa.Array) -> pa.Array:
    raw = text_bytes(column)
    if not (raw == ord("\\")).any() and not (raw < 0x20).any():
        return column  # the usual case: nothing to escape, found by two cheap byte scans
    for special, escaped in ESCAPES:
        column = pc.replace_substring(column, special, escaped)
    return column

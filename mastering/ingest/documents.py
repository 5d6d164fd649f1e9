"""The JSON document stored for each record: integers and booleans typed, everything else text.

record_json builds one document; json_texts builds a chunk's documents a column at a time
in Arrow, as JSON text that PostgreSQL reads straight into jsonb with COPY.
"""

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def record_json(values: dict[str, str | None], types: dict[str, str]) -> dict:
    data: dict = {}
    for name, value in values.items():
        if value is None:
            data[name] = None
        elif types.get(name) == "integer":
            data[name] = int(value)
        elif types.get(name) == "boolean":
            data[name] = value == "true"
        else:
            data[name] = value
    return data


def json_texts(values: pa.Table, types: dict[str, str]) -> pa.Array:
    """One JSON object per row of canonical values, equal to json.dumps(record_json(row), ensure_ascii=False)."""
    pieces: list = []
    literal = "{"  # text between two columns' values, gathered so each join piece does real work
    for index, name in enumerate(values.column_names):
        literal += ("," if index else "") + json.dumps(name, ensure_ascii=False) + ":"
        column = values[name].combine_chunks()
        if types.get(name) in ("integer", "boolean"):  # canonical integers are plain digits, booleans true/false
            pieces += [literal, pc.fill_null(column, "null")]
            literal = ""
            continue
        escaped = _escaped(column)
        if column.null_count:
            pieces += [literal, pc.fill_null(pc.binary_join_element_wise('"', escaped, '"', ""), "null")]
            literal = ""
        else:
            pieces += [literal + '"', escaped]
            literal = '"'
    pieces.append(literal + "}")
    if len(pieces) == 1:
        return pa.array([pieces[0]] * values.num_rows, pa.string())
    return pc.binary_join_element_wise(*pieces, "")


def _escaped(column: pa.Array) -> pa.Array:
    """Text as it goes between JSON quotes; the byte scan skips the work for the usual column that needs none."""
    raw = text_bytes(column)
    if (raw < 0x20).any():  # control characters are rare: let json.dumps spell them, cell by cell
        return pa.array([None if value is None else json.dumps(value, ensure_ascii=False)[1:-1]
                         for value in column.to_pylist()], pa.string())
    if (raw == ord("\\")).any():
        column = pc.replace_substring(column, "\\", "\\\\")
    if (raw == ord('"')).any():
        column = pc.replace_substring(column, '"', '\\"')
    return column


def text_bytes(column: pa.Array) -> np.ndarray:
    """The UTF-8 bytes behind a string column (a slice may show more than its own): for cheap scans."""
    data = column.buffers()[2]
    return np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)

"""Reading a JSON array or JSON lines table in chunks, a column at a time."""

import json
from collections.abc import Iterator
from itertools import chain, compress, repeat

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mastering.ingest import json_stream
from mastering.ingest.tables import HEADER_ROW, Chunk, TableError, TableFile, refuse_if_too_wide
from mastering.ingest.text import flaw, has_surrogate, shown

def _records_to_chunk(records: list, numbers: np.ndarray, *, where: str) -> Chunk:
    """JSON items (with their row numbers) as a chunk of text cells, converted a column at a time.

    Each item that is not a plain object, each that names a key twice, and each that holds a nested value,
    is a problem.
    """
    is_object = np.fromiter((type(item) is dict for item in records), dtype=bool, count=len(records))
    problems = []
    for row, item in zip(numbers[~is_object], compress(records, ~is_object)):
        if isinstance(item, json_stream.RepeatedKeys):
            problems += [{"row": int(row), "column": shown(str(key)), "value": "",
                          "reason": f"repeats the key {shown(key)!r} in one object ({where}); each key may appear once"}
                         for key in item.repeated]
        else:
            problems.append({"row": int(row), "column": "", "value": shown(json.dumps(item, ensure_ascii=False)[:100]),
                             "reason": f"is not a JSON object ({where})"})
    if not is_object.any():
        return Chunk(frame=pd.DataFrame(), rows=pd.Series([], dtype="int64"), problems=problems)
    objects = list(compress(records, is_object))
    rows = numbers[is_object]
    nested = np.zeros(len(objects), dtype=bool)
    unstorable = np.zeros(len(objects), dtype=bool)  # rows refused for a key or value that cannot be stored
    columns: dict[str, pa.Array] = {}
    absent: dict[str, np.ndarray] = {}
    names = dict.fromkeys(chain.from_iterable(objects))  # every key, in the order first seen
    refuse_if_too_wide(len(names), what=" (different keys in its objects)")  # each key costs a column's work below
    for name in names:
        if why := flaw(str(name)):
            # Refused, not ignored: the name would reach the batch's warnings, which the database cannot store.
            holders = np.fromiter(map(dict.__contains__, objects, repeat(name)), dtype=bool, count=len(objects))
            problems += [{"row": int(rows[position]), "column": shown(str(name)), "value": "",
                          "reason": f"is a key with {why}"} for position in np.flatnonzero(holders)]
            unstorable |= holders
            continue
        # Not through pandas, which would make 36 and null into 36.0 and NaN; fromiter leaves lists as they are.
        values = np.fromiter(map(dict.get, objects, repeat(name)), dtype=object, count=len(objects))
        left_out = ~np.fromiter(map(dict.__contains__, objects, repeat(name)), dtype=bool, count=len(objects))
        if left_out.any():  # an omitted key is not a null: the record keeps that value
            absent[str(name)] = left_out
        text, nested_here, broken = _json_column_text(values)
        for position in np.flatnonzero(nested_here & ~nested):
            problems.append({"row": int(rows[position]), "column": str(name), "value": "",
                             "reason": "holds a nested object or list; values must be plain"})
        for position in np.flatnonzero(broken):
            problems.append({"row": int(rows[position]), "column": str(name), "value": shown(values[position])[:200],
                             "reason": f"holds {flaw(values[position])}"})
        nested |= nested_here
        unstorable |= broken
        columns[str(name)] = text
    dropped = nested | unstorable
    keep = pa.array(~dropped)
    index = pd.RangeIndex(int((~dropped).sum()))  # items may all be {}: rows without any column
    frame = pd.DataFrame({name: pd.Series(column.filter(keep), dtype=pd.ArrowDtype(pa.string()), index=index)
                          for name, column in columns.items()}, index=index)
    problems.sort(key=lambda problem: problem["row"])
    return Chunk(frame=frame, rows=pd.Series(rows[~dropped], index=frame.index, dtype="int64"), problems=problems,
                 absent={name: mask[~dropped] for name, mask in absent.items()})


def _json_column_text(values: np.ndarray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """One column's JSON values as text ("" for null or absent), which cells hold an object or list, and which hold
    an unpaired surrogate (a "\\ud800" escape: not text, so it cannot go into Arrow or the database)."""
    plain = np.zeros(len(values), dtype=bool)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):  # the usual columns (numbers arrive as text too), converted in Arrow
        try:
            return pc.fill_null(pa.array(values, type=pa.string(), from_pandas=True), ""), plain, plain
        except UnicodeEncodeError:
            pass  # a surrogate somewhere: found cell by cell below
    elif kind == "boolean":
        array = pa.array(values, from_pandas=True, type=pa.bool_())
        return pc.fill_null(pc.if_else(array, "true", "false"), ""), plain, plain
    nested = np.fromiter((isinstance(value, (dict, list)) for value in values), dtype=bool, count=len(values))
    broken = np.fromiter((type(value) is str and has_surrogate(value) for value in values), dtype=bool,
                         count=len(values))
    texts = ["" if flag or value is None else _json_text(value) for value, flag in zip(values, nested | broken)]
    return pa.array(texts, pa.string()), nested, broken


def _json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_chunks(table: TableFile, chunk_rows: int) -> Iterator[Chunk]:
    """A JSON array, decoded an item at a time: memory stays flat however long the array is."""
    batch: list = []
    first_row = HEADER_ROW + 1  # JSON records are numbered from 2 too, so that row numbers read the same as for CSV
    with open(table.path, encoding=table.encoding) as handle:
        try:
            for item in json_stream.array_items(handle):
                batch.append(item)
                if len(batch) == chunk_rows:
                    yield _records_to_chunk(batch, _numbered(first_row, batch), where="JSON array item")
                    first_row, batch = first_row + len(batch), []
        except json_stream.NotAnArray:
            _refuse_json_that_is_not_an_array(table)
        except json_stream.JsonError as exc:
            raise TableError(f"The file is not valid JSON: {exc}.") from None
    if batch:
        yield _records_to_chunk(batch, _numbered(first_row, batch), where="JSON array item")
    elif first_row == HEADER_ROW + 1:
        raise TableError("The JSON array is empty: there are no records.")


def _numbered(first_row: int, items: list) -> np.ndarray:
    return np.arange(first_row, first_row + len(items))


def _refuse_json_that_is_not_an_array(table: TableFile) -> None:
    with open(table.path, encoding=table.encoding) as handle:
        try:
            json_stream.first_value(handle)
        except json_stream.ItemTooLarge:
            pass  # a large document that is not an array: say what was wanted
        except json_stream.JsonError as exc:
            raise TableError(f"The file is not valid JSON: {exc}.") from None
    raise TableError("A JSON table must be an array of objects, like [{\"id\": 1, ...}, ...].")


def jsonl_chunks(table: TableFile, chunk_rows: int) -> Iterator[Chunk]:
    """JSON lines, each numbered by its line (plus one, so that the first record is row 2 as in CSV)."""
    items: list = []
    rows: list[int] = []
    unreadable: list[dict] = []
    seen_any = False
    with open(table.path, encoding=table.encoding) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            seen_any = True
            try:
                items.append(json_stream.loads(line))
                rows.append(HEADER_ROW + line_number)
            except json_stream.JsonError as exc:
                unreadable.append({"row": HEADER_ROW + line_number, "column": "", "value": line[:100].strip(),
                                   "reason": f"is not valid JSON ({exc})"})
            if len(items) + len(unreadable) >= chunk_rows:
                yield _json_lines_chunk(items, rows, unreadable)
                items, rows, unreadable = [], [], []
    if not seen_any:
        raise TableError("The file has no JSON lines.")
    if items or unreadable:
        yield _json_lines_chunk(items, rows, unreadable)


def _json_lines_chunk(items: list, rows: list[int], unreadable: list[dict]) -> Chunk:
    chunk = _records_to_chunk(items, np.asarray(rows, dtype=np.int64), where="JSON line")
    chunk.problems = sorted(chunk.problems + unreadable, key=lambda problem: problem["row"])
    return chunk

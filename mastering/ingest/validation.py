"""Check text cells against a source's fields: required, type (canonical.py), length, keys; report each problem.

The JSON stored for a record types integers as numbers and booleans as booleans.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mastering.ingest.canonical import NOT_FINITE, TOO_LARGE, as_bools, canonical_column, content_hashes, non_finite
from mastering.ingest.documents import text_bytes
from mastering.ingest.limits import DEFAULT_VALUE_LENGTH, LONGEST_VALUE_LENGTH
from mastering.ingest.text import shown

__all__ = ["FieldSpec", "ValidatedChunk", "Validator", "canonical_column", "content_hashes"]

MAX_KEY_LENGTH = 255
MAX_VALUE_LENGTH = DEFAULT_VALUE_LENGTH
SHOWN_MISSING_VALUES = 8  # a reason lists this many of a source's missing values


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    max_length: int = MAX_VALUE_LENGTH


@dataclass
class ValidatedChunk:
    """Canonical cells of the rows that passed, with their keys, content hashes and row numbers."""

    keys: pa.Array  # canonical key of each row
    values: pa.Table  # one string column per field, null for empty
    hashes: pa.Array  # 16 hex digits per row
    rows: np.ndarray  # spreadsheet row number of each row
    documents: pa.Array | None = None  # the stored JSON of each row, when a writer asked for it ahead (prepare)
    # Per field, which rows left it out (a column the table lacks, a key a JSON object omits): null in values,
    # but a record that exists keeps its current value there (merge_parts.keep_absent_values). Only fields with any.
    absent: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def records(self) -> list[dict[str, str | None]]:
        return self.values.to_pylist()


def _stripped_cells(frame: pd.DataFrame, name: str) -> pa.Array:
    """The column as trimmed text, null where the cell is empty (or the column absent)."""
    if name not in frame.columns:
        return pa.nulls(len(frame), pa.string())
    column = frame[name]
    if isinstance(column.dtype, pd.ArrowDtype):  # read by Arrow: hand its array over without copying
        raw = pa.array(column)
    else:
        raw = pa.array(column.astype(str), from_pandas=True)
    if isinstance(raw, pa.ChunkedArray):  # pandas hands over long columns in pieces
        raw = raw.combine_chunks()
    stripped = pc.utf8_trim_whitespace(raw.cast(pa.string()))
    return pc.if_else(pc.equal(stripped, ""), pa.scalar(None, pa.string()), stripped)


class Problems:
    """Problems of one chunk, one per bad cell, in the order the checks find them."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows
        self.items: list[dict] = []

    def add(self, mask: np.ndarray, cells: pa.Array, column: str, reason: str) -> np.ndarray:
        positions = np.flatnonzero(mask)
        if len(positions):
            for position, value in zip(positions.tolist(), cells.take(positions).to_pylist()):
                self.items.append(_problem(self.rows[position], column, value, reason))
        return mask

    def sorted(self) -> list[dict]:
        self.items.sort(key=lambda p: (p["row"], p["column"]))
        return self.items


def _too_long_reason(limit: int) -> str:
    raise_it = (f"raise the field's max length (max_length in the admin or the sources API, up to {LONGEST_VALUE_LENGTH:,})"
                if limit < LONGEST_VALUE_LENGTH else "split the value, or keep it outside Steward")
    return f"is longer than this field's limit of {limit:,} characters; {raise_it} to accept longer values"


def _problem(row: int, column: str, value: object, reason: str) -> dict:
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    # The report is stored as JSON, which PostgreSQL refuses to hold a NUL in: show it as a symbol.
    return {"row": int(row), "column": column, "value": text[:200].replace("\x00", "\u2400"), "reason": reason}


class Validator:
    """Validates the chunks of one table against a source's fields, remembering keys across chunks.

    missing_values are cell values the source writes for "no value" (NA, null): a cell that is one of them,
    whole, after trimming and ignoring case, is empty, exactly as a blank cell is.
    """

    def __init__(self, fields: list[FieldSpec], key_field: str, missing_values: Sequence[str] = ()):
        self.fields = fields
        self.key_field = key_field
        self.first_row_of_key: dict[str, int] = {}
        self.warnings: list[str] = []
        self._checked_columns = False
        tokens = [token.strip() for token in missing_values if token.strip()]
        # Lowered by Arrow, as the cells are, so that both sides fold case the same way.
        self._missing = pc.unique(pc.utf8_lower(pa.array(tokens, pa.string()))) if tokens else None
        shown = ", ".join(tokens[:SHOWN_MISSING_VALUES]) + (", …" if len(tokens) > SHOWN_MISSING_VALUES else "")
        self._counts_as_missing = f"counts as missing in this source (its missing values: {shown})"

    def _marked_missing(self, cells: pa.Array) -> np.ndarray | None:
        """Which cells hold one of the source's missing values; None when it has none."""
        if self._missing is None:
            return None
        return as_bools(pc.fill_null(pc.is_in(pc.utf8_lower(cells), value_set=self._missing), False))

    def check_columns(self, columns: list[str]) -> list[str]:
        """Refuse a table without the key, without any other known column, or without a required column; warn about
        columns that are ignored."""
        from mastering.ingest.parsing import TableError

        names = {f.name for f in self.fields}
        if self.key_field not in columns:
            raise TableError(f"The key column {self.key_field!r} is missing. Columns found: {', '.join(map(shown, columns)) or 'none'}.")
        others = [f.name for f in self.fields if f.name != self.key_field]
        if others and not any(name in columns for name in others):
            # Columns a table leaves out keep their values, so such a table could change nothing: it is a mistake
            # (the wrong file, or headers spelled differently), not an update.
            raise TableError(
                f"The table has no column of this source besides the key {self.key_field!r} "
                f"(columns found: {', '.join(map(shown, columns))}). Expected at least one of: {', '.join(others)}.")
        missing = [f.name for f in self.fields if f.required and f.name not in columns]
        if missing:
            raise TableError(f"Required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}.")
        unknown = [c for c in columns if c not in names]
        if unknown:
            # shown(): a name may hold a NUL (a field of a streamed record), which the stored warning cannot.
            self.warnings.append(f"Ignored column{'s' if len(unknown) > 1 else ''} not defined for this source: "
                                 f"{', '.join(map(shown, unknown))}.")
        self._checked_columns = True
        return unknown

    def validate(self, frame: pd.DataFrame, rows: pd.Series | np.ndarray,
                 absent: dict[str, np.ndarray] | None = None) -> tuple[ValidatedChunk, list[dict]]:
        """Check one chunk; return the good rows (canonical) and a problem per bad cell.

        absent: per column, the rows that leave it out (JSON objects omitting a key); a column the frame
        lacks is left out by every row. Left-out cells are checked as empty and marked in the result's absent.
        """
        # A JSON chunk whose items were all refused (not objects, repeated keys) has no columns to judge by.
        if not self._checked_columns and (len(frame) or len(frame.columns)):
            self.check_columns(list(frame.columns))
        problems = Problems(np.asarray(rows, dtype=np.int64))
        bad_rows = np.zeros(len(frame), dtype=bool)
        columns: dict[str, pa.Array] = {}
        left_out: dict[str, np.ndarray] = {}
        for spec in self.fields:
            if spec.name != self.key_field:
                if spec.name not in frame.columns:
                    left_out[spec.name] = np.ones(len(frame), dtype=bool)
                elif absent and spec.name in absent:
                    left_out[spec.name] = absent[spec.name]
            cells = _stripped_cells(frame, spec.name)
            written = cells  # as the table has it, for problem reports
            marked = self._marked_missing(cells)
            if marked is not None and marked.any():
                cells = pc.if_else(pa.array(marked), pa.scalar(None, pa.string()), cells)
            missing = ~as_bools(cells.is_valid())
            if spec.name == self.key_field or spec.required:
                empty = missing if marked is None else missing & ~marked
                reason = "is empty; every record needs a key" if spec.name == self.key_field else "is required but empty"
                bad_rows |= problems.add(empty, cells, spec.name, reason)
                if marked is not None:
                    reason = f"is required but {self._counts_as_missing}"
                    if spec.name == self.key_field:
                        reason = f"{self._counts_as_missing}; every record needs a key"
                    bad_rows |= problems.add(marked, written, spec.name, reason)
            if (text_bytes(cells) == 0).any():  # rare, so the byte scan spares the usual column the search
                with_nul = as_bools(pc.fill_null(pc.match_substring(cells, "\x00"), False))
                bad_rows |= problems.add(with_nul, cells, spec.name, "contains a NUL character, which cannot be stored")
            too_long = as_bools(pc.fill_null(pc.greater(pc.utf8_length(cells), spec.max_length), False))
            bad_rows |= problems.add(too_long, cells, spec.name, _too_long_reason(spec.max_length))
            canonical, bad, reason = canonical_column(cells, spec.type)
            if spec.type in ("integer", "decimal"):
                spelled, too_large = non_finite(cells, spec.type)
                bad_rows |= problems.add(spelled, cells, spec.name, NOT_FINITE)
                bad_rows |= problems.add(too_large, cells, spec.name, TOO_LARGE)
                bad &= ~spelled  # one problem per cell, the clearer one
            bad_rows |= problems.add(bad, cells, spec.name, reason)
            columns[spec.name] = canonical
        keys = columns[self.key_field]
        long_keys = as_bools(pc.fill_null(pc.greater(pc.utf8_length(keys), MAX_KEY_LENGTH), False))
        bad_rows |= problems.add(long_keys, keys, self.key_field, f"is longer than {MAX_KEY_LENGTH} characters")
        bad_rows |= self._duplicate_keys(keys, problems, bad_rows)
        good = pa.array(~bad_rows)
        values = pa.table(columns).filter(good)
        chunk = ValidatedChunk(
            keys=values[self.key_field].combine_chunks() if values.num_rows else pa.array([], pa.string()),
            values=values,
            hashes=content_hashes(values),
            rows=problems.rows[~bad_rows],
            absent={name: mask[~bad_rows] for name, mask in left_out.items() if mask[~bad_rows].any()},
        )
        return chunk, problems.sorted()

    def validate_one(self, cells: dict[str, str], row: int) -> tuple[ValidatedChunk, list[dict]]:
        """validate() for one record of text cells (a streamed record), with the same results, problems and hash.

        A one-row frame costs a dozen Arrow calls per field; here each check runs once across the row's fields
        (the same Arrow kernels on a column of the fields' cells), and each field type is made canonical once.
        """
        if not self._checked_columns:
            self.check_columns(list(cells))
        names = [spec.name for spec in self.fields]
        raw = pc.utf8_trim_whitespace(pa.array([cells.get(name) for name in names], pa.string()))
        written = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw)  # as sent, for problem reports
        marked = self._marked_missing(written)
        present = written if marked is None or not marked.any() else pc.if_else(pa.array(marked), pa.scalar(None, pa.string()), written)
        texts, shown_texts = present.to_pylist(), written.to_pylist()
        lengths = pc.fill_null(pc.utf8_length(present), 0).to_numpy(zero_copy_only=False)
        items: list[tuple[str, object, str]] = []  # (column, value, reason), in validate()'s order per column
        by_type: dict[str, list[int]] = {}
        for index, spec in enumerate(self.fields):
            text, is_marked = texts[index], marked is not None and bool(marked[index])
            if spec.name == self.key_field or spec.required:
                if text is None and not is_marked:
                    reason = "is empty; every record needs a key" if spec.name == self.key_field else "is required but empty"
                    items.append((spec.name, None, reason))
                if is_marked:
                    reason = f"is required but {self._counts_as_missing}"
                    if spec.name == self.key_field:
                        reason = f"{self._counts_as_missing}; every record needs a key"
                    items.append((spec.name, shown_texts[index], reason))
            if text is not None and "\x00" in text:
                items.append((spec.name, text, "contains a NUL character, which cannot be stored"))
            if lengths[index] > spec.max_length:
                items.append((spec.name, text, _too_long_reason(spec.max_length)))
            by_type.setdefault(spec.type, []).append(index)
        columns: dict[str, pa.Array] = {}
        for field_type, indexes in by_type.items():
            cells_of_type = present.take(pa.array(indexes, pa.int64()))
            canonical, bad, reason = canonical_column(cells_of_type, field_type)
            if field_type in ("integer", "decimal"):
                spelled, too_large = non_finite(cells_of_type, field_type)
                bad = bad & ~spelled
            for position, index in enumerate(indexes):
                name = self.fields[index].name
                columns[name] = canonical.slice(position, 1)
                if field_type in ("integer", "decimal"):
                    if spelled[position]:
                        items.append((name, texts[index], NOT_FINITE))
                    if too_large[position]:
                        items.append((name, texts[index], TOO_LARGE))
                if bad[position]:
                    items.append((name, texts[index], reason))
        columns = {spec.name: columns[spec.name] for spec in self.fields}  # in the fields' order, as validate() has them
        key = columns[self.key_field][0].as_py()
        if key is not None and len(key) > MAX_KEY_LENGTH:
            items.append((self.key_field, key, f"is longer than {MAX_KEY_LENGTH} characters"))
        if not items and key is not None:
            if key in self.first_row_of_key:
                items.append((self.key_field, key, f"repeats a key already used on row {self.first_row_of_key[key]}"))
            else:
                self.first_row_of_key[key] = row
        problems = [_problem(row, column, value, reason) for column, value, reason in items]
        problems.sort(key=lambda p: (p["row"], p["column"]))
        values = pa.table(columns)
        if problems:
            values = values.filter(pa.array([False]))
        chunk = ValidatedChunk(
            keys=values[self.key_field].combine_chunks() if values.num_rows else pa.array([], pa.string()),
            values=values,
            hashes=content_hashes(values),
            rows=np.array([row] if not problems else [], dtype=np.int64),
            absent={name: np.ones(1, dtype=bool) for name in names
                    if name != self.key_field and name not in cells and not problems},
        )
        return chunk, problems

    def _duplicate_keys(self, keys: pa.Array, problems: Problems, bad_rows: np.ndarray) -> np.ndarray:
        """Mark every later row with a key already used, in this chunk or an earlier one."""
        duplicate = np.zeros(len(keys), dtype=bool)
        candidates = np.flatnonzero(~bad_rows & as_bools(keys.is_valid()))
        if not len(candidates):
            return duplicate
        names = keys.take(candidates).to_pylist()
        rows = problems.rows[candidates].tolist()
        seen = self.first_row_of_key
        repeats = pd.Series(names, dtype=object).duplicated(keep="first").to_numpy(copy=True)
        repeats |= np.fromiter(map(seen.__contains__, names), dtype=bool, count=len(names))
        if repeats.any():
            first_here: dict[str, int] = {}
            for name, row, repeated in zip(names, rows, repeats.tolist()):
                if repeated:
                    first = seen.get(name, first_here.get(name))
                    problems.items.append(_problem(row, self.key_field, name, f"repeats a key already used on row {first}"))
                else:
                    first_here[name] = row
            duplicate[candidates[repeats]] = True
        fresh = (~repeats).tolist()
        seen.update(zip(compress(names, fresh), compress(rows, fresh)))
        return duplicate

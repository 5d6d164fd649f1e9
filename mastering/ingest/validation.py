"""Check text cells against a source's fields and turn them into canonical values.

Canonical values are strings (or None for empty) that every database stores the same way:
integers without sign noise or leading zeros, booleans as "true"/"false", dates as ISO 8601.
The JSON stored for a record types integers as numbers and booleans as booleans.

Cells are checked a column at a time on Arrow arrays, so a million rows take seconds. The
rules are the Python regular expressions below, with Python's meaning of \\d and \\s (any
Unicode digit or space). RE2, which Arrow runs, reads those as ASCII only; so ASCII cells are
matched by an ASCII spelling of the same rule, and the rare non-ASCII cells by `re` itself.
"""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mastering.ingest.documents import text_bytes
from mastering.ingest.limits import DEFAULT_VALUE_LENGTH, LONGEST_VALUE_LENGTH
from mastering.ingest.text import shown

MAX_KEY_LENGTH = 255
MAX_VALUE_LENGTH = DEFAULT_VALUE_LENGTH
SHOWN_MISSING_VALUES = 8  # a reason lists this many of a source's missing values
INTEGER = re.compile(r"[+-]?\d{1,18}")
DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[\d\s().\-/]{5,30}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")
DIGIT = re.compile(r"\d")
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}
# The ASCII characters Python's \s matches (str.isspace), spelled for RE2.
ASCII_SPACE = r"\t\n\v\f\r\x1c-\x1f "


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
    # but a record that exists keeps its current value there (merging.keep_absent_values). Only fields with any.
    absent: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)

    def records(self) -> list[dict[str, str | None]]:
        return self.values.to_pylist()


def _ascii_spelling(rule: re.Pattern) -> str:
    r"""The rule for RE2 on ASCII text, anchored at both ends, with \d and \s spelled out."""
    text, out, in_class, i = rule.pattern, [], False, 0
    while i < len(text):
        pair = text[i : i + 2]
        if pair in (r"\d", r"\s"):
            chars = "0-9" if pair == r"\d" else ASCII_SPACE
            out.append(chars if in_class else f"[{chars}]")
            i += 2
            continue
        if text[i] == "\\":
            out.append(pair)
            i += 2
            continue
        in_class = (in_class or text[i] == "[") and text[i] != "]"
        out.append(text[i])
        i += 1
    return "^(?:" + "".join(out) + ")$"


ASCII_RULES = {rule: _ascii_spelling(rule) for rule in (INTEGER, DECIMAL, EMAIL, PHONE, DATE, DATETIME)}


def _bools(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


def _non_ascii(text: pa.Array) -> np.ndarray:
    """Positions of the cells (none of them null) that hold a non-ASCII character."""
    return np.flatnonzero(~_bools(pc.string_is_ascii(text)))


def fullmatch(text: pa.Array, rule: re.Pattern) -> np.ndarray:
    """rule.fullmatch(cell) is not None, for every cell of a null-free array."""
    matched = _bools(pc.match_substring_regex(text, ASCII_RULES[rule])).copy()
    others = _non_ascii(text)
    if len(others):
        matched[others] = [rule.fullmatch(cell) is not None for cell in text.take(others).to_pylist()]
    return matched


def _digit_counts(text: pa.Array) -> np.ndarray:
    """len(DIGIT.findall(cell)) per cell: ASCII digits counted in the UTF-8 bytes (a regex count is ten times slower)."""
    text = text.cast(pa.string())
    _, offsets, data = text.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    digits = np.concatenate([[0], np.cumsum((raw >= ord("0")) & (raw <= ord("9")))])
    counts = digits[bounds[1:]] - digits[bounds[:-1]]
    others = _non_ascii(text)
    if len(others):
        counts[others] = [len(DIGIT.findall(cell)) for cell in text.take(others).to_pylist()]
    return counts


def _scatter(base: pa.Array, mask: np.ndarray, replacements: pa.Array) -> pa.Array:
    """base with the cells where mask is set replaced, in order, by replacements."""
    if not mask.any():
        return base
    if mask.all():
        return replacements
    return pc.replace_with_mask(base, pa.array(mask), replacements)


def _canonical_integers(text: pa.Array) -> pa.Array:
    """str(int(cell)) for cells that match INTEGER; Arrow's cast does the ASCII ones."""
    others = _non_ascii(text)
    unsigned = pc.replace_substring_regex(text, r"^\+", "")
    if not len(others):
        return pc.cast(pc.cast(unsigned, pa.int64()), pa.string())
    out = np.asarray(text.to_pylist(), dtype=object)
    out[others] = [str(int(cell)) for cell in out[others]]  # int() reads any Unicode digits
    plain = np.ones(len(text), dtype=bool)
    plain[others] = False
    out[plain] = pc.cast(pc.cast(unsigned.filter(pa.array(plain)), pa.int64()), pa.string()).to_pylist()
    return pa.array(out, pa.string())


def _parse_where(text: pa.Array, matched: np.ndarray, **options) -> pd.Series:
    candidates = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object).where(matched)
    return pd.to_datetime(candidates, errors="coerce", **options)


def _canonical_dates(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    parsed = _parse_where(text, fullmatch(text, DATE), format="%Y-%m-%d")
    bad = parsed.isna().to_numpy()
    # A valid ASCII yyyy-mm-dd is already its own ISO form; only other digits need formatting.
    redo = ~bad
    redo[_bools(pc.string_is_ascii(text))] = False
    if not redo.any():
        return text, bad
    formatted = parsed[redo].dt.strftime("%Y-%m-%d")
    return _scatter(text, redo, pa.array(formatted.to_numpy(dtype=object), pa.string())), bad


def _canonical_datetimes(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    parsed = _parse_where(text, fullmatch(text, DATETIME), format="ISO8601", utc=True)
    bad = parsed.isna().to_numpy()
    good = ~bad
    if not good.any():
        return text, bad
    seconds = parsed[good].dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    iso = np.char.add(np.datetime_as_string(seconds, unit="s"), "Z").astype(object)
    # strftime, the reference, writes years below 1000 unpadded ("999-01-01"); numpy pads them.
    early = seconds.astype("datetime64[Y]").astype(np.int64) + 1970 < 1000
    if early.any():
        iso[early] = (
            parsed[good][early].dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"\+0000$", "Z", regex=True).to_numpy()
        )
    return _scatter(text, good, pa.array(iso, pa.string())), bad


def _canonical_text(text: pa.Array, field_type: str) -> tuple[pa.Array, np.ndarray, str]:
    """(canonical values, bad mask, reason) for null-free stripped text of one field type."""
    if field_type == "integer":
        ok = fullmatch(text, INTEGER)
        return _scatter(text, ok, _canonical_integers(text.filter(pa.array(ok)))), ~ok, "is not a whole number"
    if field_type == "decimal":
        return text, ~fullmatch(text, DECIMAL), "is not a number (use a dot for decimals, e.g. 12.50)"
    if field_type == "boolean":
        lowered = pc.utf8_lower(text)
        is_true = pc.is_in(lowered, pa.array(sorted(TRUE_WORDS)))
        known = _bools(is_true) | _bools(pc.is_in(lowered, pa.array(sorted(FALSE_WORDS))))
        return pc.if_else(is_true, "true", "false"), ~known, "is not yes/no (true, false, yes, no, 1 or 0)"
    if field_type == "date":
        canonical, bad = _canonical_dates(text)
        return canonical, bad, "is not a date like 2024-01-31"
    if field_type == "datetime":
        canonical, bad = _canonical_datetimes(text)
        return canonical, bad, "is not a date and time like 2024-01-31T09:30:00Z"
    if field_type == "email":
        return text, ~fullmatch(text, EMAIL), "is not an email address"
    if field_type == "phone":
        ok = fullmatch(text, PHONE) & (_digit_counts(text) >= 5)
        return text, ~ok, "is not a phone number"
    return text, np.zeros(len(text), dtype=bool), ""


NOT_FINITE = "is not a finite number; NaN and infinity are not accepted"
TOO_LARGE = "is too large a number: beyond about 1.8e308 it counts as infinite, and infinity is not accepted"


def non_finite(cells: pa.Array, field_type: str) -> tuple[np.ndarray, np.ndarray]:
    """(NaN or infinity spelled out, decimal too large for a float) masks over a column of integer or decimal cells.

    Matching and scoring read decimals as floats, where 1e99999 is infinity; the regular expression alone accepts it.
    """
    spelled = _bools(pc.fill_null(pc.match_substring_regex(cells, r"^[+-]?(nan|inf|infinity)$", ignore_case=True),
                                  False))
    too_large = np.zeros(len(cells), dtype=bool)
    if field_type == "decimal":
        # Only an exponent or some 309 digits can overflow: the few such cells are read one by one.
        maybe = pc.or_(pc.match_substring(cells, "e", ignore_case=True), pc.greater(pc.utf8_length(cells), 308))
        positions = np.flatnonzero(_bools(pc.fill_null(maybe, False)) & ~spelled)
        if len(positions):
            too_large[positions] = [DECIMAL.fullmatch(cell) is not None and math.isinf(float(cell))
                                    for cell in cells.take(positions).to_pylist()]
    return spelled, too_large


def canonical_column(cells: pa.Array, field_type: str) -> tuple[pa.Array, np.ndarray, str]:
    """Return (canonical values, bad-value mask, reason) for one column of stripped text, null when empty."""
    present = _bools(cells.is_valid())
    text = cells if present.all() else cells.filter(pa.array(present))
    canonical, text_bad, reason = _canonical_text(text.cast(pa.string()), field_type)
    bad = np.zeros(len(cells), dtype=bool)
    bad[present] = text_bad
    return _scatter(cells.cast(pa.string()), present, canonical), bad, reason


def content_hashes(values: pa.Table) -> pa.Array:
    """A 64-bit hash per row over field names and canonical values, as 16 hex digits; equal hash, equal content.

    Stored hashes decide whether a re-sent row is a new version, so the hash must never change:
    it is pandas' hash_array (SipHash, fixed key) of "name\\x1evalue" per field, sorted by name
    and joined by \\x1f. An empty value hashes as "": the first implementation filled it with
    "\\x00" through pandas' fillna, which stored it as "" (no real value is "", so that is safe).
    """
    pieces: list = []
    for index, name in enumerate(sorted(values.column_names)):
        pieces += [("\x1f" if index else "") + name + "\x1e", pc.fill_null(values[name], "")]
    if pieces:
        joined = pc.binary_join_element_wise(*pieces, "").to_numpy(zero_copy_only=False)
    else:
        joined = np.full(values.num_rows, "", dtype=object)
    return _hex(pd.util.hash_array(joined.astype(object), categorize=False))


def _hex(numbers: np.ndarray) -> pa.Array:
    """format(n, "016x") for an array of uint64, without a Python call per number."""
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = (numbers[:, None] >> shifts) & np.uint64(15)
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles.astype(np.intp)]
    offsets = np.arange(0, 16 * (len(numbers) + 1), 16, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(digits.tobytes())])


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
        return _bools(pc.fill_null(pc.is_in(pc.utf8_lower(cells), value_set=self._missing), False))

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
            missing = ~_bools(cells.is_valid())
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
                with_nul = _bools(pc.fill_null(pc.match_substring(cells, "\x00"), False))
                bad_rows |= problems.add(with_nul, cells, spec.name, "contains a NUL character, which cannot be stored")
            too_long = _bools(pc.fill_null(pc.greater(pc.utf8_length(cells), spec.max_length), False))
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
        long_keys = _bools(pc.fill_null(pc.greater(pc.utf8_length(keys), MAX_KEY_LENGTH), False))
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

    def _duplicate_keys(self, keys: pa.Array, problems: Problems, bad_rows: np.ndarray) -> np.ndarray:
        """Mark every later row with a key already used, in this chunk or an earlier one."""
        duplicate = np.zeros(len(keys), dtype=bool)
        candidates = np.flatnonzero(~bad_rows & _bools(keys.is_valid()))
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

"""Check text cells against a source's fields and turn them into canonical values.

Canonical values are strings (or None for empty) that every database stores the same way:
integers without sign noise or leading zeros, booleans as "true"/"false", dates as ISO 8601.
The JSON stored for a record types integers as numbers and booleans as booleans.
"""

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_KEY_LENGTH = 255
MAX_VALUE_LENGTH = 10_000
INTEGER = re.compile(r"[+-]?\d{1,18}")
DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PHONE = re.compile(r"\+?[\d\s().\-/]{5,30}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")
TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False


@dataclass
class ValidatedChunk:
    """Canonical cells of the rows that passed, keyed by source key, with their content hashes."""

    keys: pd.Series
    values: pd.DataFrame  # one column per field, canonical strings or None
    hashes: pd.Series
    rows: pd.Series


def _problem(row: int, column: str, value: object, reason: str) -> dict:
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    return {"row": int(row), "column": column, "value": text[:200], "reason": reason}


def _check(mask: pd.Series, cells: pd.Series, rows: pd.Series, column: str, reason: str, problems: list[dict]) -> None:
    for position in mask[mask].index:
        problems.append(_problem(rows[position], column, cells[position], reason))


def canonical_column(cells: pd.Series, field_type: str) -> tuple[pd.Series, pd.Series, str]:
    """Return (canonical values, bad-value mask, reason) for one column of stripped, non-empty text."""
    present = cells.notna()
    bad = pd.Series(False, index=cells.index)
    out = cells.copy()
    text = cells[present]
    if field_type == "integer":
        ok = text.str.fullmatch(INTEGER.pattern)
        bad[present] = ~ok
        out[present & ~bad] = text[ok].map(lambda s: str(int(s)))
        return out, bad, "is not a whole number"
    if field_type == "decimal":
        ok = text.str.fullmatch(DECIMAL.pattern)
        bad[present] = ~ok
        return out, bad, "is not a number (use a dot for decimals, e.g. 12.50)"
    if field_type == "boolean":
        lowered = text.str.lower()
        is_true, is_false = lowered.isin(TRUE_WORDS), lowered.isin(FALSE_WORDS)
        bad[present] = ~(is_true | is_false)
        out[present] = np.where(is_true, "true", "false")
        return out, bad, "is not yes/no (true, false, yes, no, 1 or 0)"
    if field_type == "date":
        parsed = pd.to_datetime(text.where(text.str.fullmatch(DATE.pattern)), format="%Y-%m-%d", errors="coerce")
        bad[present] = parsed.isna()
        out[present & ~bad] = parsed.dropna().dt.strftime("%Y-%m-%d")
        return out, bad, "is not a date like 2024-01-31"
    if field_type == "datetime":
        parsed = pd.to_datetime(text.where(text.str.fullmatch(DATETIME.pattern)), format="ISO8601", errors="coerce", utc=True)
        bad[present] = parsed.isna()
        out[present & ~bad] = parsed.dropna().dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"\+0000$", "Z", regex=True)
        return out, bad, "is not a date and time like 2024-01-31T09:30:00Z"
    if field_type == "email":
        bad[present] = ~text.str.fullmatch(EMAIL.pattern)
        return out, bad, "is not an email address"
    if field_type == "phone":
        ok = text.str.fullmatch(PHONE.pattern) & (text.str.count(r"\d") >= 5)
        bad[present] = ~ok
        return out, bad, "is not a phone number"
    return out, bad, ""


def content_hashes(keys: pd.Series, values: pd.DataFrame) -> pd.Series:
    """A 64-bit hash per row over field names and canonical values; equal hash, equal content."""
    if values.empty and len(values.columns) == 0:
        joined = pd.Series("", index=keys.index)
    else:
        parts = [name + "\x1e" + values[name].fillna("\x00") for name in sorted(values.columns)]
        joined = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
    hashed = pd.util.hash_pandas_object(joined.astype(object), index=False)
    return hashed.map(lambda h: format(int(h), "016x"))


class Validator:
    """Validates the chunks of one table against a source's fields, remembering keys across chunks."""

    def __init__(self, fields: list[FieldSpec], key_field: str):
        self.fields = fields
        self.key_field = key_field
        self.first_row_of_key: dict[str, int] = {}
        self.warnings: list[str] = []
        self._checked_columns = False

    def check_columns(self, columns: list[str]) -> list[str]:
        """Refuse a table without the key or a required column; warn about columns that are ignored."""
        from mastering.ingest.parsing import TableError

        names = {f.name for f in self.fields}
        if self.key_field not in columns:
            raise TableError(f"The key column {self.key_field!r} is missing. Columns found: {', '.join(columns) or 'none'}.")
        missing = [f.name for f in self.fields if f.required and f.name not in columns]
        if missing:
            raise TableError(f"Required column{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}.")
        unknown = [c for c in columns if c not in names]
        if unknown:
            self.warnings.append(f"Ignored column{'s' if len(unknown) > 1 else ''} not defined for this source: {', '.join(unknown)}.")
        self._checked_columns = True
        return unknown

    def validate(self, frame: pd.DataFrame, rows: pd.Series) -> tuple[ValidatedChunk, list[dict]]:
        """Check one chunk; return the good rows (canonical) and a problem per bad cell."""
        if not self._checked_columns:
            self.check_columns(list(frame.columns))
        problems: list[dict] = []
        bad_rows = pd.Series(False, index=frame.index)
        values = pd.DataFrame(index=frame.index)
        for spec in self.fields:
            if spec.name in frame.columns:
                raw = frame[spec.name].astype(str).str.strip()
                cells = raw.where(raw != "", None)
            else:
                cells = pd.Series(None, index=frame.index, dtype=object)
            if spec.required or spec.name == self.key_field:
                missing = cells.isna()
                reason = "is empty; every record needs a key" if spec.name == self.key_field else "is required but empty"
                _check(missing, cells, rows, spec.name, reason, problems)
                bad_rows |= missing
            too_long = cells.notna() & (cells.str.len() > MAX_VALUE_LENGTH)
            _check(too_long, cells, rows, spec.name, f"is longer than {MAX_VALUE_LENGTH} characters", problems)
            bad_rows |= too_long
            canonical, bad, reason = canonical_column(cells, spec.type)
            _check(bad, cells, rows, spec.name, reason, problems)
            bad_rows |= bad
            values[spec.name] = canonical.astype(object).where(canonical.notna(), None)
        keys = values[self.key_field]
        long_keys = keys.notna() & (keys.str.len() > MAX_KEY_LENGTH)
        _check(long_keys, keys, rows, self.key_field, f"is longer than {MAX_KEY_LENGTH} characters", problems)
        bad_rows |= long_keys
        bad_rows |= self._duplicate_keys(keys, rows, bad_rows, problems)
        good = ~bad_rows
        good_values = values[good]
        chunk = ValidatedChunk(
            keys=keys[good].astype(str),
            values=good_values,
            hashes=content_hashes(keys[good].astype(str), good_values),
            rows=rows[good],
        )
        problems.sort(key=lambda p: (p["row"], p["column"]))
        return chunk, problems

    def _duplicate_keys(self, keys: pd.Series, rows: pd.Series, bad_rows: pd.Series, problems: list[dict]) -> pd.Series:
        duplicate = pd.Series(False, index=keys.index)
        seen = self.first_row_of_key
        for position, key in keys[keys.notna() & ~bad_rows].items():
            first = seen.get(key)
            if first is None:
                seen[key] = int(rows[position])
            else:
                duplicate[position] = True
                problems.append(_problem(rows[position], self.key_field, key, f"repeats a key already used on row {first}"))
        return duplicate


def record_json(values: dict[str, str | None], types: dict[str, str]) -> dict:
    """The stored JSON of a record: integers and booleans typed, everything else text."""
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

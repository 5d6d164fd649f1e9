"""Canonical values of text cells, a column at a time, and content hashes of rows.

Canonical values are strings (or None for empty) that every database stores the same way:
integers without sign noise or leading zeros, booleans as "true"/"false", dates as ISO 8601.

Cells are checked on Arrow arrays, so a million rows take seconds. The rules are the Python
regular expressions below, with Python's meaning of \\d and \\s (any Unicode digit or space). RE2,
which Arrow runs, reads those as ASCII only; so ASCII cells are matched by an ASCII spelling of
the same rule, and the rare non-ASCII cells by `re` itself.
"""

import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


def as_bools(array: pa.Array) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False)


def _non_ascii(text: pa.Array) -> np.ndarray:
    """Positions of the cells (none of them null) that hold a non-ASCII character."""
    return np.flatnonzero(~as_bools(pc.string_is_ascii(text)))


def fullmatch(text: pa.Array, rule: re.Pattern) -> np.ndarray:
    """rule.fullmatch(cell) is not None, for every cell of a null-free array."""
    matched = as_bools(pc.match_substring_regex(text, ASCII_RULES[rule])).copy()
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
    redo[as_bools(pc.string_is_ascii(text))] = False
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
        known = as_bools(is_true) | as_bools(pc.is_in(lowered, pa.array(sorted(FALSE_WORDS))))
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
    spelled = as_bools(pc.fill_null(pc.match_substring_regex(cells, r"^[+-]?(nan|inf|infinity)$", ignore_case=True),
                                  False))
    too_large = np.zeros(len(cells), dtype=bool)
    if field_type == "decimal":
        # Only an exponent or some 309 digits can overflow: the few such cells are read one by one.
        maybe = pc.or_(pc.match_substring(cells, "e", ignore_case=True), pc.greater(pc.utf8_length(cells), 308))
        positions = np.flatnonzero(as_bools(pc.fill_null(maybe, False)) & ~spelled)
        if len(positions):
            too_large[positions] = [DECIMAL.fullmatch(cell) is not None and math.isinf(float(cell))
                                    for cell in cells.take(positions).to_pylist()]
    return spelled, too_large


def canonical_column(cells: pa.Array, field_type: str) -> tuple[pa.Array, np.ndarray, str]:
    """Return (canonical values, bad-value mask, reason) for one column of stripped text, null when empty."""
    present = as_bools(cells.is_valid())
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

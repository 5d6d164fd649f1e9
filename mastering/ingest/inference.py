"""Guess a field type from sample values, for proposing a source's fields."""

import pandas as pd
import pyarrow as pa

from mastering.ingest.validation import canonical_column

# Most specific first: a column of 0/1 is boolean before it is integer.
CANDIDATES = ["boolean", "integer", "decimal", "date", "datetime", "email", "phone"]


def infer_field_type(values: list[str]) -> str:
    """The most specific type every non-empty sample value satisfies; text when none does."""
    if not values:
        return "string"
    cells = pd.Series(values, dtype=object)
    for candidate in CANDIDATES:
        if candidate == "boolean" and cells.str.lower().nunique() > 2:
            continue
        if candidate in ("integer", "decimal") and cells.str.match(r"[+-]?0\d").any():
            continue  # leading zeros (postcodes, ids) are text, or they would be lost
        if candidate == "phone" and not cells.str.contains(r"[\s\-+()]").any():
            continue  # bare digit strings are not obviously phone numbers
        _, bad, _ = canonical_column(pa.array(values, pa.string()), candidate)
        if not bad.any():
            return candidate
    return "string"

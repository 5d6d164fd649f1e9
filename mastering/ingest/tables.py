"""A table file as inspected, and the chunks of text cells it is read in."""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mastering.ingest.limits import max_columns
from steward.errors import InvalidInput

HEADER_ROW = 1  # row numbers are spreadsheet rows: the header is row 1, the first record row 2


class TableError(InvalidInput):
    """The file as a whole cannot be read as a table."""


def refuse_if_too_wide(columns: int, *, what: str = "") -> None:
    """Refuse a table wider than STEWARD_MAX_COLUMNS before any per-column work is done."""
    limit = max_columns()
    if columns > limit:
        raise TableError(f"The table has {columns:,} columns{what}; at most {limit:,} are accepted (STEWARD_MAX_COLUMNS).")


@dataclass
class TableFile:
    """What the first pass learned about a file."""

    path: Path
    file_name: str
    size: int
    checksum: str
    encoding: str
    kind: str  # csv | json | jsonl
    delimiter: str = ","
    warnings: list[str] = field(default_factory=list)
    blank_lines: bool = True  # an empty line somewhere (perhaps inside a quoted value); True when unsure
    quotes_even: bool = False  # an even count of double quotes: no quoted value can be left open at the end
    lines: int = 0  # line breaks, plus a last line without one

    @property
    def expected_rows(self) -> int | None:
        """About how many rows the table has, from its lines, for progress; None when lines do not tell (a JSON array)."""
        if self.kind == "json" or not self.lines:
            return None
        return max(self.lines - (1 if self.kind == "csv" else 0), 0)  # a CSV's first line is its header

    @property
    def plainly_numbered(self) -> bool:
        """Rows can be numbered in the order they are read: no empty line is skipped, no quote left open."""
        return self.quotes_even and not self.blank_lines


@dataclass
class Chunk:
    """Consecutive rows of a table as text cells ('' for empty), and rows that could not be read."""

    frame: pd.DataFrame
    rows: pd.Series  # spreadsheet row number of each frame row
    problems: list[dict] = field(default_factory=list)
    # JSON only: per column, which rows' objects leave that key out ('' in the frame, but not "empty": the
    # record keeps its current value). A column the table lacks altogether is absent from every row.
    absent: dict[str, np.ndarray] = field(default_factory=dict)

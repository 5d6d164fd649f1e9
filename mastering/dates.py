"""Dates as sources send them: common formats parsed to a date, so `20010909`, `2001-09-09` and `09/09/2001` agree.

Pure Python, no Django: the mapping transform `date` and the labeling card both use it.
"""

import re
from datetime import date, datetime

# Tried in order. Day-first before month-first: the data sets here are Australian and European (an ambiguous
# 03/04/2001 reads as 3 April); an unambiguous 12/31/2001 still parses through the month-first format.
FORMATS = (
    "%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y.%m.%d",
    "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%m/%d/%Y",
    "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%b %d, %Y", "%B %d, %Y",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ",
)
_DATE_NAME = re.compile(r"(^|_|\b)(date|dob|birth|born|dod|day)(_|\b|$)", re.IGNORECASE)
# Years outside this are typos or placeholders (00000000), not dates a person lived.
MIN_YEAR, MAX_YEAR = 1800, 2200


def parse_date(value: str) -> date | None:
    """The date a text names in one of the common formats, or None when it names none."""
    text = " ".join(str(value).strip().split())
    if not text or len(text) > 40:
        return None
    for fmt in FORMATS:
        try:
            parsed = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if MIN_YEAR <= parsed.year <= MAX_YEAR:
            return parsed
    return None


def to_iso_date(value: str) -> str:
    """A mapping transform: the date as YYYY-MM-DD; text that is not a date is kept as it came."""
    parsed = parse_date(value)
    return parsed.isoformat() if parsed else value


def looks_like_date_attribute(name: str) -> bool:
    """Whether an attribute's name says it holds dates (date_of_birth, dob, born)."""
    return bool(_DATE_NAME.search(name.replace("-", "_")))

"""parse_date's fast paths give what the strptime loop over every layout gives."""

import datetime as dt
import random

from mastering.engine import variables
from mastering.engine.variables import parse_date


def by_layouts(text: str) -> dt.date | None:
    return variables.parse_date_by_layouts(text.strip())


def test_iso_and_compact_dates_parse_as_the_layouts_do():
    rng = random.Random(7)
    texts = [
        "2001-09-09",
        " 2001-09-09 ",
        "1799-12-31",
        "2201-01-01",
        "2001-13-01",
        "2001-02-30",
        "0000-01-01",
        "2001-9-09",
        "2001-0a-09",
        "٢٠٠١-٠٩-٠٩",
        "20010909",
        "2001/09/09",
        "09/09/2001",
        "9 Sep 2001",
    ]
    texts += [f"{rng.randint(1700, 2300):04d}-{rng.randint(0, 13):02d}-{rng.randint(0, 32):02d}" for _ in range(2000)]
    assert [parse_date(t) for t in texts] == [by_layouts(t) for t in texts]


def test_an_iso_date_does_not_go_through_strptime(monkeypatch):
    class Refusing:
        @staticmethod
        def strptime(*args):
            raise AssertionError("strptime called")

    monkeypatch.setattr(variables.dt, "datetime", Refusing)
    assert parse_date("2001-09-09") == dt.date(2001, 9, 9)

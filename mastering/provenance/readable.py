"""Stored JSON (a job's counts, timings and parameters; an activity's parameters) as rows people read: words for
names, numbers formatted, lists joined, nested mappings as nested rows. Never a Python repr."""

from dataclasses import dataclass, field

from steward.readable import text, words


@dataclass
class Row:
    label: str
    text: str = ""
    rows: list["Row"] = field(default_factory=list)  # a nested mapping
    table: list[dict] | None = None  # a list of mappings, shown as a table
    columns: list[str] = field(default_factory=list)


def rows(mapping: dict | None) -> list[Row]:
    """A mapping as rows; nested mappings nest, lists of mappings become tables."""
    out = []
    for name, value in (mapping or {}).items():
        if isinstance(value, dict) and value:
            out.append(Row(words(name), rows=rows(value)))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(k for v in value for k in v))
            out.append(Row(words(name), columns=[words(c) for c in columns],
                           table=[{"cells": [text(v.get(c)) for c in columns]} for v in value]))
        else:
            out.append(Row(words(name), text(value)))
    return out


def predicate_words(predicate: str) -> str:
    """A dedupe blocking rule in words: "sameThreeCharStartPredicate(suburb)" → "same three char start of suburb"."""
    import re

    match = re.fullmatch(r"\s*(\w+?)(?:Predicate)?\((.*)\)\s*", predicate or "")
    if not match:
        return predicate
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", match[1]).lower().replace("_", " ")
    arguments = ", ".join(part.strip().strip("'\"") for part in match[2].split(","))
    return f"{name} of {arguments}"

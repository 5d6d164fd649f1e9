"""Stored JSON (a job's counts, timings and parameters; an activity's parameters) as rows people read: words for
names, numbers formatted, lists joined, nested mappings as nested rows. Never a Python repr."""

from dataclasses import dataclass, field

WORDS = {
    "model_version": "Model version", "per_predicate": "Pairs per blocking rule", "threshold": "Match threshold",
    "records": "Records", "pairs": "Candidate pairs", "entities": "Entities", "new": "New entities",
    "unchanged": "Unchanged entities", "retired": "Retired", "chunks": "Chunks", "file_name": "File name",
    "checksum": "Checksum (SHA-256)", "channel": "Channel", "mode": "Mode", "partial": "Keep good rows",
    "label_count": "Labels", "values_changed": "Values changed", "rule": "Rule", "attribute": "Attribute",
}


@dataclass
class Row:
    label: str
    text: str = ""
    rows: list["Row"] = field(default_factory=list)  # a nested mapping
    table: list[dict] | None = None  # a list of mappings, shown as a table
    columns: list[str] = field(default_factory=list)


def words(name: str) -> str:
    """snake_case → "Snake case", with the known names spelled out."""
    if name in WORDS:
        return WORDS[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def text(value) -> str:
    """One value as text: — for nothing, yes/no, numbers without noise, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) if value else "—"
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {text(v)}" for k, v in value.items()) or "—"
    return str(value)


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

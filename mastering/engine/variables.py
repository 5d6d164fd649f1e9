"""Attribute definitions: how each attribute is compared, and how raw values are prepared for it."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dedupe.variables
from simplecosine.cosine import CosineTextSimilarity

from mastering.engine.records import PreparedRecord, RawRecord, RecordId

COMPARATORS: tuple[str, ...] = (
    "String",
    "ShortString",
    "Text",
    "Exact",
    "Price",
    "LatLong",
    "DateTime",
    "Categorical",
    "Set",
    "Exists",
)


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute the matcher compares: its name in the records and the comparator to use."""

    name: str
    comparator: str
    has_missing: bool = True
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.comparator not in COMPARATORS:
            raise ValueError(f"Unknown comparator {self.comparator!r} for {self.name!r}; use one of {COMPARATORS}.")
        if self.comparator == "Categorical" and not self.categories:
            raise ValueError(f"Categorical attribute {self.name!r} needs its categories.")

    def as_dict(self) -> dict[str, Any]:
        """Plain-data form, stored inside the learned settings."""
        return {
            "name": self.name,
            "comparator": self.comparator,
            "has_missing": self.has_missing,
            "categories": list(self.categories),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributeSpec:
        """Rebuild a spec from `as_dict` output."""
        return cls(
            name=str(data["name"]),
            comparator=str(data["comparator"]),
            has_missing=bool(data.get("has_missing", True)),
            categories=tuple(str(c) for c in data.get("categories", ())),
        )


# Comparators that weigh words by rarity (TF-IDF cosine) and so learn word weights from a corpus.
CORPUS_COMPARATORS = ("String", "Text", "Set")
# Text attributes (product names, descriptions, titles) are also compared by the codes in them
# (model and part numbers: "KDL-46V4100" and "kdl46v4100" are one code), held in a derived field.
CODES_SUFFIX = " (codes)"
_CODE = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")


class CharacterCosine(CosineTextSimilarity):
    """TF-IDF cosine over character trigrams: word order, spacing and run-together words stop mattering."""

    def _list(self, document: str) -> list[str]:
        padded = f" {document} "
        return [padded[i : i + 3] for i in range(len(padded) - 2)]


def model_codes(text: str) -> tuple[str, ...] | None:
    """The codes in a text (tokens mixing letters and digits, or long numbers), separators dropped."""
    codes = set()
    for token in _CODE.findall(text):
        code = re.sub(r"[-/.]", "", token)
        has_digit = any(c.isdigit() for c in code)
        if len(code) >= 4 and has_digit and (not code.isdigit() or len(code) >= 5):
            codes.add(code)
    return tuple(sorted(codes)) or None


def derived_fields(spec: AttributeSpec) -> tuple[str, ...]:
    """Fields `prepare_record` adds to a record for this attribute."""
    return (spec.name + CODES_SUFFIX,) if spec.comparator == "Text" else ()


def to_dedupe_variables(
    specs: Sequence[AttributeSpec], corpus: Iterable[Mapping[str, object]] | None = None
) -> list[Any]:
    """Translate attribute specs into dedupe variables; `corpus` (prepared records) weighs Text/Set words."""
    if not specs:
        raise ValueError("At least one attribute is needed to match records.")
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"Attribute names must be unique, got {names}.")
    documents: dict[str, list[object]] = {spec.name: [] for spec in specs if spec.comparator in CORPUS_COMPARATORS}
    documents.update({field: [] for spec in specs for field in derived_fields(spec)})
    for record in corpus or ():
        for name, values in documents.items():
            if record.get(name) is not None:
                values.append(record[name])
    variables = []
    for spec in specs:
        variables.append(plain_variable(spec, documents.get(spec.name)))
        if spec.comparator == "String":
            # Multi-word strings get a second, word-level view: edit distance alone punishes
            # reordered or appended words ("YMCA South Side" / "YMCA of Metropolitan Chicago South Side").
            variables.append(
                dedupe.variables.Text(spec.name, name=f"({spec.name}: Words)", corpus=documents.get(spec.name) or None, has_missing=spec.has_missing)
            )
        if spec.comparator == "Text":
            # Long or noisy text: word overlap alone misses "46in" / "46 inch" and run-together codes.
            characters = dedupe.variables.Text(spec.name, name=f"({spec.name}: Characters)", has_missing=spec.has_missing)
            characters.comparator = CharacterCosine(documents.get(spec.name) or [])
            characters.predicates = []  # its blocking predicates are the words variable's
            variables.append(characters)
            codes = spec.name + CODES_SUFFIX
            variables.append(dedupe.variables.Set(codes, corpus=documents.get(codes) or None, has_missing=True))
    return variables


def plain_variable(spec: AttributeSpec, corpus: list[object] | None = None) -> Any:
    """The one dedupe variable of the attribute's comparator (without the extra views `to_dedupe_variables` adds)."""
    kind, name, missing = spec.comparator, spec.name, spec.has_missing
    if kind == "String":
        return dedupe.variables.String(name, has_missing=missing)
    if kind in ("ShortString", "DateTime"):
        # dedupe 3 ships no date variable; dates are normalised to YYYYMMDD by prepare_value and
        # compared as short strings, which also tolerates typos and day/month swaps.
        return dedupe.variables.ShortString(name, has_missing=missing)
    if kind == "Text":
        return dedupe.variables.Text(name, corpus=corpus or None, has_missing=missing)
    if kind == "Exact":
        return dedupe.variables.Exact(name, has_missing=missing)
    if kind == "Price":
        return dedupe.variables.Price(name, has_missing=missing)
    if kind == "LatLong":
        return dedupe.variables.LatLong(name, has_missing=missing)
    if kind == "Categorical":
        return dedupe.variables.Categorical(name, categories=list(spec.categories), has_missing=missing)
    if kind == "Set":
        return dedupe.variables.Set(name, corpus=corpus or None, has_missing=missing)
    return dedupe.variables.Exists(name, has_missing=missing)


_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")
_CURRENCY = re.compile(r"^[-+]?\s*[$€£¥]\s*|\s*(usd|eur|gbp|aud)$", re.IGNORECASE)
_LATLONG = re.compile(r"^\(?\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,; ]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*\)?$")
_SET_SEPARATORS = re.compile(r"\s*[,;|]\s*")
_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%dT%H:%M:%S", "%d %b %Y", "%d %B %Y")


def parse_date(text: str) -> dt.date | None:
    """Parse a date in one of the common layouts, or return None."""
    text = text.strip()
    # The compact and ISO layouts (ISO is what the iso_date transform writes) are read without strptime, which
    # costs ~50 µs a call and failed on the compact layout before reading ISO; whatever this cannot read goes
    # through the layouts as before.
    if len(text) == 8:
        digits = text
    elif len(text) == 10 and text[4] == "-" and text[7] == "-":
        digits = text[:4] + text[5:7] + text[8:]
    else:
        digits = ""
    if digits.isascii() and digits.isdigit():
        try:
            parsed = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            parsed = None
        if parsed is not None and 1800 <= parsed.year <= 2200:
            return parsed
    return parse_date_by_layouts(text)


def parse_date_by_layouts(text: str) -> dt.date | None:
    """The first of the common layouts that reads `text` as a date between 1800 and 2200, or None."""
    for layout in _DATE_FORMATS:
        try:
            parsed = dt.datetime.strptime(text, layout).date()
        except ValueError:
            continue
        if 1800 <= parsed.year <= 2200:
            return parsed
    return None


def _parse_price(text: str) -> float | None:
    cleaned = _CURRENCY.sub("", text.strip()).replace(" ", "")
    if not cleaned or not _NUMBER.match(cleaned):
        return None
    try:
        return float(cleaned.replace(",", ""))
    except ValueError:
        return None


def _parse_latlong(text: str) -> tuple[float, float] | None:
    match = _LATLONG.match(text.strip())
    if not match:
        return None
    lat, lon = float(match.group(1)), float(match.group(2))
    if -90 <= lat <= 90 and -180 <= lon <= 180:
        return (lat, lon)
    return None


def prepare_value(spec: AttributeSpec, raw: object) -> object | None:
    """Turn a raw attribute value into what dedupe's comparator for `spec` expects (None when missing)."""
    if raw is None:
        return None
    kind = spec.comparator
    if kind == "Price":
        if isinstance(raw, bool):
            return None
        value = float(raw) if isinstance(raw, (int, float)) else _parse_price(str(raw))
        # dedupe's price distance is a log ratio: zero or negative prices carry no information.
        return value if value is not None and value > 0 else None
    if kind == "LatLong":
        if isinstance(raw, (tuple, list)) and len(raw) == 2:
            return (float(raw[0]), float(raw[1]))
        return _parse_latlong(str(raw))
    if kind == "Set":
        if isinstance(raw, (tuple, list, set, frozenset)):
            tokens = [normalise_text(str(t)) for t in raw]
        else:
            text = normalise_text(str(raw))
            tokens = _SET_SEPARATORS.split(text) if _SET_SEPARATORS.search(text) else text.split()
        cleaned = tuple(sorted({t for t in tokens if t}))
        return cleaned or None
    if kind == "Categorical":
        # dedupe's categorical comparator raises on undeclared values; unknown means no evidence.
        text = " ".join(str(raw).split())
        return text if text in spec.categories else None
    text = normalise_text(str(raw))
    if not text:
        return None
    if kind == "DateTime":
        parsed = parse_date(text)
        return parsed.strftime("%Y%m%d") if parsed else text
    return text


def normalise_text(text: str) -> str:
    """Case-fold, drop accents and collapse whitespace: sources disagree on these, entities do not."""
    if text.isascii():  # NFKD and combining marks change nothing in ASCII
        return " ".join(text.casefold().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def prepare_record(specs: Sequence[AttributeSpec], raw: Mapping[str, object]) -> PreparedRecord:
    """Prepare every attribute of one record (absent attributes become None), and the fields derived from them."""
    prepared: PreparedRecord = {spec.name: prepare_value(spec, raw.get(spec.name)) for spec in specs}
    for spec in specs:
        if spec.comparator == "Text":
            value = prepared[spec.name]
            prepared[spec.name + CODES_SUFFIX] = model_codes(value) if isinstance(value, str) else None
    return prepared


def prepare_records(specs: Sequence[AttributeSpec], records: Mapping[RecordId, RawRecord], *,
                    memo: dict[tuple[int, object], object] | None = None) -> dict[RecordId, PreparedRecord]:
    """Prepare many records at once, keyed as given (each distinct value of an attribute prepared once).

    `memo` (prepared values by attribute position and raw text) may be kept between calls with the same specs.
    """
    # Names, places, dates and codes repeat across a register: preparing each distinct value once
    # halves the cost of preparing a chunk of people.
    if memo is None:
        memo = {}
    texts = [spec for spec in specs if spec.comparator == "Text"]
    prepared_all: dict[RecordId, PreparedRecord] = {}
    for rid, raw in records.items():
        prepared: PreparedRecord = {}
        for position, spec in enumerate(specs):
            value = raw.get(spec.name)
            if type(value) is not str:  # only text is memoised (1 and True would share a key)
                prepared[spec.name] = prepare_value(spec, value)
                continue
            key = (position, value)
            try:
                prepared[spec.name] = memo[key]
            except KeyError:
                prepared[spec.name] = memo[key] = prepare_value(spec, value)
        for spec in texts:
            value = prepared[spec.name]
            prepared[spec.name + CODES_SUFFIX] = model_codes(value) if isinstance(value, str) else None
        prepared_all[rid] = prepared
    return prepared_all


def infer_comparator(values: Iterable[str | None]) -> str:
    """Guess a comparator name from sample values of one attribute."""
    present = [" ".join(str(v).split()) for v in values if v is not None and str(v).strip()]
    if not present:
        return "ShortString"
    n = len(present)

    def share(predicate: Any) -> float:
        return sum(1 for v in present if predicate(v)) / n

    if share(lambda v: parse_date(v) is not None and not _looks_like_plain_number(v)) >= 0.9:
        return "DateTime"
    if share(lambda v: _parse_latlong(v) is not None and ("," in v or ";" in v)) >= 0.9:
        return "LatLong"
    if share(lambda v: _parse_price(v) is not None) >= 0.9 and share(_looks_like_money) >= 0.5:
        return "Price"
    distinct = len(set(present))
    tokens = sum(len(v.split()) for v in present) / n
    length = sum(len(v) for v in present) / n
    if n >= 20 and distinct <= max(2, min(20, n // 10)):
        # A handful of values repeated everywhere (states, flags): only equality carries information.
        return "Exact"
    if tokens >= 6 or length >= 60:
        return "Text"
    if tokens <= 1.2 and length <= 20:
        return "ShortString"
    return "String"


def _looks_like_money(value: str) -> bool:
    return bool(_CURRENCY.search(value)) or bool(re.search(r"\.\d{2}$", value))


def _looks_like_plain_number(value: str) -> bool:
    # Eight-digit compact dates (YYYYMMDD) are dates; other bare digit strings are codes.
    return value.isdigit() and len(value) != 8

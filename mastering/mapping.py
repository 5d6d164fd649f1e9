"""Projecting source records onto an entity type's attributes through its mappings."""

import re
import string
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection

from mastering.dates import to_iso_date
from mastering.models import Attribute, AttributeMapping, EntityType, SourceRecord
from steward.db import among

_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")
_NOT_DIGITS = re.compile(r"\D")

TRANSFORMS: dict[str, Callable[[str], str]] = {
    "trim": str.strip,
    "lowercase": str.lower,
    # str.split() splits on exactly what \s matches (str.isspace), at a third of the regex's cost.
    "collapse_whitespace": lambda s: " ".join(s.split()),
    "digits_only": lambda s: _NOT_DIGITS.sub("", s),
    "strip_punctuation": lambda s: _PUNCTUATION.sub("", s),
    # Common date formats (20010909, 09/09/2001, 9 Sep 2001) to ISO 2001-09-09, so sources that write dates
    # differently compare equal; a value that is no date is kept unchanged.
    "iso_date": to_iso_date,
}


def apply_transforms(value: object, transforms: Iterable[str]) -> str | None:
    """A record value as text with the mapping's transforms applied; empty becomes None."""
    if value is None:
        return None
    text = value if isinstance(value, str) else ("true" if value is True else "false" if value is False else str(value))
    for name in transforms:
        text = TRANSFORMS[name](text)
    text = text.strip()
    return text or None


@dataclass(frozen=True)
class FieldFeed:
    attribute: str
    field: str
    transforms: tuple[str, ...]


# Distinct text values a projection remembers per mapping before it starts over: names, towns and dates repeat,
# so most values of a run are transformed once; the bound keeps a long-lived projection's memory small.
MEMO_LIMIT = 200_000


@dataclass
class Projection:
    """How each source's record data becomes attribute values for one entity type."""

    entity_type: EntityType
    attributes: list[Attribute]
    feeds: dict[int, list[FieldFeed]]  # source id → feeds in attribute/position order
    _plans: dict[int, list[tuple[str, str, tuple[str, ...], dict]]] = field(default_factory=dict, init=False, repr=False)

    @property
    def source_ids(self) -> list[int]:
        return sorted(self.feeds)

    def project(self, source_id: int, data: dict) -> dict[str, str | None]:
        """Attribute values of one record; several fields feeding one attribute are joined by spaces."""
        plan = self._plans.get(source_id)
        if plan is None:
            plan = self._plans[source_id] = [(feed.attribute, feed.field, feed.transforms, {})
                                             for feed in self.feeds.get(source_id, ())]
        values: dict[str, str | None] = {a.name: None for a in self.attributes}
        for attribute, name, transforms, memo in plan:
            value = data.get(name)
            if value is None:
                continue
            if type(value) is str:  # only text is remembered: True == 1, yet they become "true" and "1"
                result = memo.get(value, memo)
                if result is memo:
                    if len(memo) >= MEMO_LIMIT:
                        memo.clear()
                    result = memo[value] = apply_transforms(value, transforms)
            else:
                result = apply_transforms(value, transforms)
            if result is not None:
                before = values.get(attribute)
                values[attribute] = result if before is None else f"{before} {result}"
        return values


def projection_for(entity_type: EntityType) -> Projection:
    """Load an entity type's attributes and mappings once."""
    attributes = list(entity_type.attributes.order_by("position", "id"))
    feeds: dict[int, list[FieldFeed]] = defaultdict(list)
    mappings = (
        AttributeMapping.objects.filter(attribute__entity_type=entity_type)
        .select_related("attribute", "field")
        .order_by("attribute__position", "attribute_id", "position", "id")
    )
    for mapping in mappings:
        feeds[mapping.source_id].append(FieldFeed(mapping.attribute.name, mapping.field.name, tuple(mapping.transforms or ())))
    return Projection(entity_type, attributes, dict(feeds))


def mapped_record_queryset(projection: Projection):
    """Live records of every source mapped into the entity type."""
    return SourceRecord.objects.filter(source_id__in=projection.source_ids, retired=False)


def iter_mapped_records(projection: Projection, *, record_ids: Iterable[int] | None = None,
                        id_range: tuple[int, int] | None = None, chunk_size: int = 5000) -> Iterator[tuple[int, int, dict]]:
    """(record id, source id, attribute values) for live mapped records, in id order."""
    records = mapped_record_queryset(projection)
    if id_range is not None:
        records = records.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    if record_ids is not None:
        records = SourceRecord.objects.filter(among(SourceRecord, "id", record_ids), source_id__in=projection.source_ids)
    for record_id, source_id, data in records.order_by("pk").values_list("pk", "source_id", "data").iterator(chunk_size=chunk_size):
        yield record_id, source_id, projection.project(source_id, data)


def mapped_records(projection: Projection, *, record_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """Record id → attribute values, for the given ids or every live mapped record."""
    if record_ids is not None:
        record_ids = list(record_ids)
        found: dict[int, dict] = {}
        # SQLite takes at most 999 parameters; PostgreSQL reads a big IN list in one scan of the index.
        step = 900 if connection.vendor == "sqlite" else 20_000
        for start in range(0, len(record_ids), step):
            for record_id, _, values in iter_mapped_records(projection, record_ids=record_ids[start : start + step]):
                found[record_id] = values
        return found
    return {record_id: values for record_id, _, values in iter_mapped_records(projection)}


def normalize_name(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")

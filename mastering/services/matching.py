"""Match one record against the mastered entities of its type: read-only, from the match index.

The record's blocking keys find candidate records in the index (match_index); their live entities are the
candidate entities. The record is scored against every member of each (up to MAX_MEMBERS_COMPARED), and an
entity's score is the mean of those scores: the batch run's centroid clustering joins a record to a cluster by
its distance to the cluster as a whole, not to its single closest member, and so does this.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from datetime import timezone as dt_timezone
from statistics import fmean

import numpy
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mastering import engine, selectors
from mastering.config_cache import cached_active_model, cached_projection
from mastering.mapping import Projection, apply_transforms
from mastering.matchers import matcher_for
from mastering.models import Entity, EntityType, MatchModel, Source
from mastering.services import match_index
from steward.errors import InvalidInput, ServiceError

MAX_RECORD_BYTES = 16 * 1024  # a record to match, as JSON
MAX_VALUE_CHARS = 2000
MAX_LIMIT = 50
# A candidate entity larger than this is scored against this many of its members (those the lookup found first).
MAX_MEMBERS_COMPARED = 50
PROBE = 0  # the probe's id in the engine; source record ids start at 1


class NotTrained(ServiceError):
    pass


class IndexNotReady(ServiceError):
    pass


class RecordTooLarge(InvalidInput):
    status_code = 413


@dataclass
class EntityCandidate:
    """One candidate entity for a record: its score, the closest member and why it may not take the record."""

    entity: Entity
    score: float
    compared: int  # members scored
    best_record: int
    best_score: float
    blocked: str = ""  # why streaming may not join it ("pinned", "not a match with ...", ...); empty when it may
    explanation: list[dict] = field(default_factory=list)
    near: "NearEntity | None" = None  # its members as read for the match


@dataclass
class MatchResult:
    entity_type: EntityType
    model: MatchModel
    threshold: float
    values: dict[str, str | None]
    candidates: list[EntityCandidate]  # best first, at most `limit`
    decision: EntityCandidate | None  # the best candidate above the threshold that may take the record
    lookup: match_index.Candidates
    ranked: list[EntityCandidate] = field(default_factory=list)  # every candidate entity, best first


def active_model(entity_type: EntityType) -> MatchModel:
    """The entity type's active model, or NotTrained (409) saying what to do."""
    model = cached_active_model(entity_type)
    if model is None:
        raise NotTrained(f"{entity_type.name} has no trained model yet: label pairs (or import labels) and train first; "
                         "records streamed meanwhile are stored and matched by the next mastering run.")
    return model


def probe_values(*, entity_type: EntityType, record: object, source: Source | None = None,
                 projection: Projection | None = None) -> dict[str, str | None]:
    """The attribute values of a record given in attribute names, or in the field names of a mapped source."""
    if not isinstance(record, dict) or not record:
        raise InvalidInput("record must be a JSON object of values, by attribute name (or by field name with a source).")
    size = len(json.dumps(record, default=str).encode())
    if size > MAX_RECORD_BYTES:
        raise RecordTooLarge(f"The record is {size:,} bytes; records to match are limited to {MAX_RECORD_BYTES:,} bytes.")
    wrong = sorted(str(name) for name, value in record.items()
                   if value is not None and not isinstance(value, (str, int, float, bool)))
    if wrong:
        raise InvalidInput(f"Values must be text, numbers, booleans or null, not objects or lists: {', '.join(wrong)}.")
    long = sorted(str(name) for name, value in record.items() if isinstance(value, str) and len(value) > MAX_VALUE_CHARS)
    if long:
        raise RecordTooLarge(f"Values are limited to {MAX_VALUE_CHARS:,} characters: {', '.join(long)}.")
    projection = projection or cached_projection(entity_type)
    if source is None:
        names = [a.name for a in projection.attributes]
        unknown = sorted(str(name) for name in record if name not in names)
        if unknown:
            raise InvalidInput(f"Not attributes of {entity_type.name}: {', '.join(unknown)}. "
                               f"Its attributes are: {', '.join(names)} (or name a source and use its field names).")
        return {name: apply_transforms(record.get(name), ()) for name in names}
    feeds = projection.feeds.get(source.pk)
    if not feeds:
        raise InvalidInput(f"The source {source.slug} is not mapped into {entity_type.name}.")
    fields = {f.name for f in source.fields.all()}
    mapped = {feed.field for feed in feeds} | {source.key_field}
    unknown = sorted(str(name) for name in record if name not in fields)
    unmapped = sorted(str(name) for name in record if name in fields and name not in mapped)
    if unknown or unmapped:
        parts = [f"not fields of {source.slug}: {', '.join(unknown)}"] if unknown else []
        parts += [f"not mapped into {entity_type.name}: {', '.join(unmapped)}"] if unmapped else []
        raise InvalidInput(f"Fields {'; '.join(parts)}. Mapped fields: {', '.join(sorted(mapped - {source.key_field}))}.",
                           problems=[{"field": n, "reason": "unknown"} for n in unknown]
                           + [{"field": n, "reason": "not mapped"} for n in unmapped])
    return projection.project(source.pk, record)


def check_threshold(threshold: float | None) -> None:
    if threshold is not None and not (0.0 <= threshold <= 1.0):
        raise InvalidInput(f"threshold must be between 0 and 1 (got {threshold}).")


def find_matches(*, entity_type: EntityType, values: dict[str, str | None], source_id: int | None = None,
                 record_id: int | None = None, threshold: float | None = None, limit: int = 5,
                 apart: frozenset[int] = frozenset(), explain: bool = True, streaming: bool = False) -> MatchResult:
    """Candidate entities for one record's values, best first, with a decision; writes nothing.

    `record_id` (a stored record being re-matched) is left out of its own candidates; `apart` are records it
    must never be joined with. With `streaming`, pinned entities cannot take the record (a lookup still
    reports them: they are the known entity).
    """
    check_threshold(threshold)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT} (got {limit}).")
    model = active_model(entity_type)
    threshold = selectors.match_threshold_for(entity_type=entity_type, model=model) if threshold is None else threshold
    matcher = matcher_for(model)
    blocks = match_index.probe_blocks(matcher, values)
    lookup = match_index.candidate_records(model=model, blocks=[b for _, b in blocks],
                                           cap=match_index.block_cap(model=model), exclude=record_id)
    if not lookup.records:
        _check_index(entity_type, model, record_id)
        return MatchResult(entity_type, model, threshold, values, [], None, lookup)
    projection = cached_projection(entity_type)
    neighbours = entities_near(entity_type=entity_type, projection=projection, records=list(lookup.records),
                               besides=record_id)
    records = {m.record_id: m.values for near in neighbours for m in near.members if m.values is not None}
    scores = _score(matcher, values, records)
    candidates = []
    for near in neighbours:
        scored = [(scores[m.record_id], m.record_id) for m in near.members if m.record_id in scores]
        if not scored:
            continue
        best_score, best_record = max(scored, key=lambda s: (s[0], -s[1]))
        candidate = EntityCandidate(near.entity, round(fmean(s for s, _ in scored), 4), len(scored), best_record,
                                    round(best_score, 4), near=near)
        rows_of = [(m.record_id, m.source_id) for m in near.members]
        candidate.blocked = _blocked(candidate.entity, rows_of, apart=apart, source_id=source_id,
                                     one_per_source=entity_type.one_per_source, streaming=streaming)
        candidates.append(candidate)
    candidates.sort(key=lambda c: (-c.score, c.entity.created_at, str(c.entity.pk)))
    decision = next((c for c in candidates if c.score > threshold and not c.blocked), None)
    shown = candidates[:limit]
    if decision is not None and decision not in shown:
        shown.append(decision)
    if explain:
        for candidate in shown:
            candidate.explanation = explanation(matcher, values, records[candidate.best_record])
    return MatchResult(entity_type, model, threshold, values, shown, decision, lookup, candidates)


@dataclass
class NearMember:
    """A member of a candidate entity as one read returns it: enough to score it and to recompute a golden record."""

    record_id: int
    source_id: int
    reason: str
    confidence: float | None
    fact: dict | None  # golden.record_facts' facts; None for a retired record or one of a source no longer mapped
    values: dict | None  # attribute values; None for a record of a source no longer mapped


@dataclass
class NearEntity:
    entity: Entity
    members: list[NearMember]  # in record order; at most MAX_MEMBERS_COMPARED, those the lookup found first
    total: int  # its members besides the probe record
    overrides: int  # live curator overrides of its golden values

    @property
    def complete(self) -> bool:
        return len(self.members) == self.total


def _ids_in(column: str, ids: list[int]) -> tuple[str, list]:
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [ids]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(ids)]


_ENTITY_COLUMNS = ("id", "entity_type_id", "size", "confidence", "golden", "provenance", "pinned", "created_job_id",
                   "changed_job_id", "retired_at", "retired_into_id", "created_at", "updated_at")


def entities_near(*, entity_type: EntityType, projection: Projection, records: list[int],
                  besides: int | None = None) -> list[NearEntity]:
    """The live entities holding any of these records, with their members' values and facts, in one query.

    An entity larger than MAX_MEMBERS_COMPARED comes with that many members, those among `records` first. The
    record `besides` (a stored record being re-matched) is left out of the members.
    """
    if not records:
        return []
    found, found_params = _ids_in("m.record_id", records)
    ranked, ranked_params = _ids_in("m.record_id", records)
    columns = ", ".join(f"e.{name}" for name in _ENTITY_COLUMNS)
    sql = f"""
        WITH hit AS (
            SELECT DISTINCT m.entity_id FROM mastering_membership m
            JOIN mastering_entity e ON e.id = m.entity_id AND e.retired_at IS NULL
            WHERE m.entity_type_id = %s AND {found}
        ), ranked AS (
            SELECT m.entity_id, m.record_id, m.reason, m.confidence,
                   ROW_NUMBER() OVER (PARTITION BY m.entity_id
                                      ORDER BY CASE WHEN {ranked} THEN 0 ELSE 1 END, m.record_id) AS position,
                   COUNT(*) OVER (PARTITION BY m.entity_id) AS total
            FROM mastering_membership m JOIN hit ON hit.entity_id = m.entity_id
            WHERE m.record_id <> %s
        )
        SELECT {columns}, k.total AS near_total, k.record_id AS near_record, k.reason AS near_reason,
               k.confidence AS near_confidence, r.source_id AS near_source, r.key AS near_key, r.version AS near_version,
               r.retired AS near_retired, r.created_at AS near_created, r.updated_at AS near_updated, r.data AS near_data,
               s.slug AS near_slug, s.priority AS near_priority,
               (SELECT COUNT(*) FROM mastering_valueoverride o
                WHERE o.entity_id = e.id AND o.removed_at IS NULL) AS near_overrides
        FROM ranked k JOIN mastering_entity e ON e.id = k.entity_id
        JOIN mastering_sourcerecord r ON r.id = k.record_id JOIN mastering_source s ON s.id = r.source_id
        WHERE k.position <= %s
        ORDER BY e.id, k.record_id
    """
    params = [entity_type.pk, *found_params, *ranked_params, -1 if besides is None else besides, MAX_MEMBERS_COMPARED]
    near: dict = {}
    for row in Entity.objects.raw(sql, params):
        row.entity_type = entity_type  # its url, without a read
        entry = near.get(row.pk)
        if entry is None:
            entry = near[row.pk] = NearEntity(row, [], int(row.near_total), int(row.near_overrides))
        mapped = row.near_source in projection.feeds
        data = _loaded(row.near_data)
        values = projection.project(row.near_source, data) if mapped else None
        fact = None
        if mapped and not _truthy(row.near_retired):
            fact = {"source_id": row.near_source, "source": row.near_slug, "priority": row.near_priority,
                    "key": row.near_key, "version": row.near_version, "created": _moment(row.near_created).timestamp(),
                    "updated": _moment(row.near_updated).timestamp(), "values": values}
        entry.members.append(NearMember(row.near_record, row.near_source, row.near_reason, row.near_confidence, fact,
                                        values))
    return list(near.values())


def _loaded(value: object) -> dict:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _truthy(value: object) -> bool:
    return bool(int(value)) if isinstance(value, (int, str)) else bool(value)


def _moment(value: object) -> datetime:
    """A timestamp column read raw: PostgreSQL gives an aware datetime, SQLite its text (UTC)."""
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, dt_timezone.utc)
    moment = parse_datetime(str(value))
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt_timezone.utc)


def _check_index(entity_type: EntityType, model: MatchModel, record_id: int | None) -> None:
    # No candidate at all is an honest answer only if the index holds this model's keys (or nothing is mastered).
    others = Entity.objects.live().filter(entity_type=entity_type)
    if record_id is not None:
        others = others.exclude(memberships__record_id=record_id)
    if not match_index.is_built(model=model, besides=record_id) and others.exists():
        raise IndexNotReady(f"The entities of {entity_type.name} were mastered with another model version: run a mastering "
                            f"job with model v{model.version} before matching or streaming records.")


def _score(matcher: engine.Matcher, values: dict, records: dict[int, dict]) -> dict[int, float]:
    if not records:
        return {}
    pairs = numpy.array([(PROBE, member) for member in sorted(records)], dtype=numpy.int64)
    scores: dict[int, float] = {}
    for chunk in matcher.score(pairs, {PROBE: values, **records}):
        for (_, member), score in zip(chunk["pairs"].tolist(), chunk["score"].tolist()):
            scores[member] = float(score)
    return scores


def _blocked(entity: Entity, rows_of: list[tuple[int, int]], *, apart: frozenset[int], source_id: int | None,
             one_per_source: bool, streaming: bool) -> str:
    if streaming and entity.pinned:
        return "pinned by a curator"
    held_apart = sorted(m for m, _ in rows_of if m in apart)
    if held_apart:
        return f"marked not a match with record {held_apart[0]}"
    if one_per_source and source_id is not None and any(s == source_id for _, s in rows_of):
        return "already has a record of this source"
    return ""


def explanation(matcher: engine.Matcher, values: dict, other: dict) -> list[dict]:
    """Per attribute: both values, the distance each of its comparators found, and the share of the score (log-odds)."""
    rows: dict[str, dict] = {}
    baseline = 0.0
    for part in matcher.explain(values, other):
        if part.attribute == "(baseline)":
            baseline = part.contribution
            continue
        # A String attribute is compared twice (edit distance and shared words): one row, both distances.
        row = rows.setdefault(part.attribute, {"attribute": part.attribute, "value": values.get(part.attribute),
                                               "member_value": other.get(part.attribute), "distances": [], "contribution": 0.0})
        row["distances"].append(None if part.distance is None else round(part.distance, 4))
        row["contribution"] = round(row["contribution"] + part.contribution, 4)
    return [*rows.values(), {"attribute": None, "baseline": True, "contribution": baseline}]

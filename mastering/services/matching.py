"""Match one record against the mastered entities of its type: read-only, from the match index.

The record's blocking keys find candidate records in the index (match_index); their live entities are the
candidate entities. The record is scored against every member of each (up to MAX_MEMBERS_COMPARED), and an
entity's score is the mean of those scores: the batch run's centroid clustering joins a record to a cluster by
its distance to the cluster as a whole, not to its single closest member, and so does this.
"""

import json
from dataclasses import dataclass, field
from statistics import fmean

import numpy

from mastering import engine, selectors
from mastering.config_cache import cached_active_model, cached_projection
from mastering.mapping import Projection, apply_transforms, mapped_records
from mastering.matchers import matcher_for
from mastering.models import Entity, EntityType, MatchModel, Membership, Source
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
    found = list(Membership.objects.filter(entity_type=entity_type, record_id__in=list(lookup.records),
                                           entity__retired_at__isnull=True).values_list("entity_id", flat=True).distinct())
    members: dict[str, list[tuple[int, int]]] = {}
    rows = (Membership.objects.filter(entity_id__in=found).order_by("entity_id", "record_id")
            .values_list("entity_id", "record_id", "record__source_id"))
    for entity_id, member, member_source in rows:
        if member != record_id:
            members.setdefault(str(entity_id), []).append((member, member_source))
    for entity_id, rows_of in members.items():
        if len(rows_of) > MAX_MEMBERS_COMPARED:  # the members the lookup found come first
            rows_of.sort(key=lambda r: (r[0] not in lookup.records, r[0]))
            del rows_of[MAX_MEMBERS_COMPARED:]
    compared = {m for rows_of in members.values() for m, _ in rows_of}
    records = mapped_records(cached_projection(entity_type), record_ids=compared)
    scores = _score(matcher, values, records)
    entities = {str(e.pk): e for e in Entity.objects.filter(pk__in=list(members))}
    candidates = []
    for entity_id, rows_of in members.items():
        scored = [(scores[m], m) for m, _ in rows_of if m in scores]
        if not scored or entity_id not in entities:
            continue
        best_score, best_record = max(scored, key=lambda s: (s[0], -s[1]))
        candidate = EntityCandidate(entities[entity_id], round(fmean(s for s, _ in scored), 4), len(scored), best_record,
                                    round(best_score, 4))
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

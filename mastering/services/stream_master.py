"""Streaming mastering (flow 4): place one stored record of a stream-mode source in an entity, inside its request.

The record joins the best live entity scoring above the threshold (matching.find_matches), or becomes a new
entity; a changed record that no longer matches its entity moves; a retired record leaves; an entity left
empty is retired with a redirect to where its record went. Curator decisions hold as in batch runs: a record
placed by an edit, a pin or an issue stays where it is, a pinned entity gains no member, records marked "not
a match" are never joined, and overrides stay (golden records are recomputed with them).
"""

import uuid
from contextlib import nullcontext
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activities
from mastering.config_cache import cached_projection
from mastering.matchers import matcher_for
from mastering.models import Entity, EntityType, MatchModel, Membership, RunChange, SourceRecord
from mastering.services import golden, match_index, stream_writes
from mastering.services.apart import records_apart_from
from mastering.services.golden import golden_for
from mastering.services.matching import EntityCandidate, NearEntity, active_model, find_matches

# Memberships a curator decided: streaming leaves them where they are.
DECIDED = (Membership.Reason.EDIT, Membership.Reason.PINNED, Membership.Reason.ISSUE)


@dataclass
class Placement:
    """Where a streamed record ended up in one entity type."""

    entity_type: EntityType
    entity: Entity | None  # None: the record left (it was retired)
    action: str  # new | joined | stayed | moved | kept | left
    created: bool = False
    score: float | None = None
    moved_from: str | None = None


def entity_types_of(record: SourceRecord) -> list[EntityType]:
    """The entity types the record's source is mapped into."""
    return list(EntityType.objects.filter(attributes__mappings__source_id=record.source_id).distinct().order_by("pk"))


def _shared_entity_types(record: SourceRecord) -> list[EntityType]:
    # Runs finishing and curator edits lock the entity type row FOR UPDATE; streams share it, so they wait for
    # those (and those for them) but not for each other. One read finds the types and takes the locks.
    if connection.vendor != "postgresql":
        return entity_types_of(record)
    return list(EntityType.objects.raw(
        "SELECT * FROM mastering_entitytype WHERE id IN (SELECT a.entity_type_id FROM mastering_attribute a "
        "JOIN mastering_attributemapping m ON m.attribute_id = a.id WHERE m.source_id = %s) ORDER BY id FOR SHARE",
        [record.source_id]))


def place_record(*, record: SourceRecord, user: AbstractBaseUser | None, fresh: bool = False,
                 activities: list[dict] | None = None) -> list[Placement]:
    """Match a stored record and place it in an entity of every entity type its source feeds (NotTrained: no model).

    Runs inside the caller's transaction (the upsert's), so the record and its place commit together. It writes
    nothing before it may refuse (NotTrained, IndexNotReady), so a refusal needs no savepoint. `fresh`: the record
    was created in this transaction (it has no place, keys or labels yet). With `activities`, the placements'
    Activities are appended there for the caller to write with its own; otherwise they are written here.
    """
    assert transaction.get_connection().in_atomic_block, "place_record runs inside the upsert's transaction"
    entity_types = _shared_entity_types(record)
    models = {et.pk: active_model(et) for et in entity_types}  # every type trained, or nothing is placed
    pending: list[dict] = []
    # With several types, a refusal by a later one must undo the earlier ones' placements: a savepoint then.
    with transaction.atomic() if len(entity_types) > 1 else nullcontext():
        placements = [_place(record, entity_type, models[entity_type.pk], user, fresh=fresh, activities=pending)
                      for entity_type in entity_types]
    if activities is None:
        record_activities(activities=pending)
    else:
        activities.extend(pending)
    return placements


def _place(record: SourceRecord, entity_type: EntityType, model: MatchModel, user, *, fresh: bool,
           activities: list[dict]) -> Placement:
    projection = cached_projection(entity_type)
    values = projection.project(record.source_id, record.data)
    blocks = [] if record.retired else match_index.probe_blocks(matcher_for(model), values, record_id=record.pk)
    _lock_blocks([block for _, block in blocks])
    membership = None if fresh else (
        Membership.objects.select_related("entity").filter(entity_type=entity_type, record=record).first())
    current = membership.entity if membership else None
    if record.retired:
        match_index.drop_record(entity_type=entity_type, record_id=record.pk)
        if membership is None:
            return Placement(entity_type, None, "left")
        membership.delete()
        _after_leaving(current, entity_type, record, user, into=None)
        activities.append(_activity(record, model, user, f"left entity {current.pk}", [current]))
        return Placement(entity_type, None, "left", moved_from=str(current.pk))
    if membership is not None and (membership.reason in DECIDED or current.pinned):
        _replace_keys(entity_type, model, record, blocks, fresh=fresh)
        _refresh_values(current, entity_type, record, user)
        activities.append(_activity(record, model, user, f"kept in entity {current.pk} (a curator's decision)", [current]))
        return Placement(entity_type, current, "kept")
    # A record created in this transaction has no labels yet: nothing can hold it apart.
    apart = frozenset() if fresh else records_apart_from(entity_type=entity_type, record_id=record.pk)
    # The match reads before the record's keys are written (it may refuse: IndexNotReady), and counts the record
    # in each of its blocks all the same (match_index.candidate_records).
    result = find_matches(entity_type=entity_type, values=values, source_id=record.source_id, record_id=record.pk,
                          apart=apart, explain=False, streaming=True, limit=1)
    _replace_keys(entity_type, model, record, blocks, fresh=fresh)
    decision = result.decision
    if current is not None:
        mine = next((c for c in result.ranked if c.entity.pk == current.pk), None)
        # The match read the entity with its other members (they are why it is a candidate): no need to ask.
        others = mine is not None or Membership.objects.filter(entity=current).exclude(record=record).exists()
        if mine is not None and mine.score > result.threshold and not mine.blocked:
            stayed = _stay_in_one_statement(record, entity_type, projection, membership, mine, values, user)
            if stayed is not None:
                activities.append(_activity(record, model, user, f"stayed in entity {stayed.pk}", [stayed]))
                return Placement(entity_type, stayed, "stayed", score=mine.score)
            _set_membership(membership, current, mine.score)
            before = dict(current.golden)
            current = _regolden(mine.entity, entity_type, projection, mine.near, record, values, mine.score,
                                as_read=_locked_as_read(mine.entity))
            if current.golden != before:
                _change(current, RunChange.Kind.VALUES, record, user, before=before)
            activities.append(_activity(record, model, user, f"stayed in entity {current.pk}", [current]))
            return Placement(entity_type, current, "stayed", score=mine.score)
        if not others and (decision is None or decision.entity.pk == current.pk):
            _refresh_values(current, entity_type, record, user)
            activities.append(_activity(record, model, user, f"stayed alone in entity {current.pk}", [current]))
            return Placement(entity_type, current, "stayed")
    if current is None:
        target, created, score = _place_new(record, entity_type, projection, values, decision, user)
    else:
        target, created, score = _move(record, entity_type, membership, current, decision, user)
    action = "moved" if current is not None else ("new" if created else "joined")
    activities.append(_activity(record, model, user, f"{action} entity {target.pk}" + (f" from {current.pk}" if current else ""),
                                [target, *([current] if current else [])]))
    return Placement(entity_type, target, action, created=created, score=score,
                     moved_from=str(current.pk) if current else None)


def _replace_keys(entity_type: EntityType, model: MatchModel, record: SourceRecord, blocks, *, fresh: bool) -> None:
    match_index.replace_record_keys(entity_type=entity_type, model=model, record_id=record.pk, source_id=record.source_id,
                                    blocks=blocks, fresh=fresh)


def _place_new(record: SourceRecord, entity_type: EntityType, projection, values: dict, decision: EntityCandidate | None,
               user) -> tuple[Entity, bool, float | None]:
    """A record with no entity yet joins the decision or starts an entity; its golden record is computed from the
    members the match read (no second read) when the entity is small and has no overrides."""
    rules = {a.name: a.survivorship for a in projection.attributes}
    facts = {record.pk: _fact(record, values)}
    if decision is None:
        golden, provenance = golden_for(rules, [record.pk], facts, None)
        if connection.vendor == "postgresql":
            now = timezone.now()
            target = Entity(id=uuid.uuid4(), entity_type=entity_type, golden=golden, provenance=provenance, size=1,
                            confidence=None, created_at=now, updated_at=now)
            target._state.adding, target._state.db = False, connection.alias
            stream_writes.start_entity(entity_id=target.pk, entity_type_id=entity_type.pk, record_id=record.pk,
                                       golden=golden, provenance=provenance, now=now,
                                       change=_change_fields(target, RunChange.Kind.NEW, record, user, added=[record.pk],
                                                             before={}))
            return target, True, None
        target = Entity.objects.create(id=uuid.uuid4(), entity_type=entity_type, golden=golden, provenance=provenance,
                                       size=1, confidence=None)
        Membership.objects.create(entity_type=entity_type, entity=target, record=record,
                                  reason=Membership.Reason.SINGLETON, confidence=None)
        _change(target, RunChange.Kind.NEW, record, user, added=[record.pk], before={})
        return target, True, None
    near, score = decision.near, decision.score
    if connection.vendor == "postgresql" and near.complete and not near.overrides:
        joined = _join_in_one_statement(record, entity_type, projection, near, values, score, user)
        if joined is not None:
            return joined, False, score
    as_read = _locked_as_read(decision.entity)
    if as_read is None:  # another stream retired it since the match read it: start a new one
        return _place_new(record, entity_type, projection, values, None, user)
    target = decision.entity
    before = dict(target.golden)
    Membership.objects.create(entity_type=entity_type, entity=target, record=record, reason=Membership.Reason.MODEL,
                              confidence=score)
    if any(m.reason == Membership.Reason.SINGLETON for m in near.members) or not near.complete:
        # A singleton that gains a member is now matched by the model, as a batch run would mark it.
        Membership.objects.filter(entity=target, reason=Membership.Reason.SINGLETON).exclude(record=record).update(
            reason=Membership.Reason.MODEL, confidence=score)
    target = _regolden(target, entity_type, projection, near, record, values, score, as_read=as_read, singletons_at=score)
    _change(target, RunChange.Kind.GROWN, record, user, added=[record.pk], before=before)
    return target, False, score


def _regolden(entity: Entity, entity_type: EntityType, projection, near: NearEntity, record: SourceRecord, values: dict,
              score: float | None, *, as_read: bool, singletons_at: float | None = None) -> Entity:
    """The entity's golden record, size and confidence with `record` a member at `score`, computed from the members
    the match read (no second read); recomputed from the database when it changed since, is large, or has overrides.

    `singletons_at`: the confidence its members placed as singletons were just given (they are now matched).
    """
    if not (as_read and near.complete and not near.overrides):
        return _refresh(entity, entity_type)
    entity.golden, entity.provenance, entity.size, entity.confidence = _golden_as_read(
        projection, near, record, values, score, singletons_at=singletons_at)
    entity.updated_at = timezone.now()
    Entity.objects.filter(pk=entity.pk).update(golden=entity.golden, provenance=entity.provenance, size=entity.size,
                                               confidence=entity.confidence, updated_at=entity.updated_at)
    return entity


def _golden_as_read(projection, near: NearEntity, record: SourceRecord, values: dict, score: float | None, *,
                    singletons_at: float | None) -> tuple[dict, dict, int, float | None]:
    """(golden record, provenance, size, confidence) of a complete entity without overrides, `record` joining it at
    `score`, from the members the match read."""
    rules = {a.name: a.survivorship for a in projection.attributes}
    facts = {m.record_id: m.fact for m in near.members if m.fact is not None}
    facts[record.pk] = _fact(record, values)
    golden_values, provenance = golden_for(rules, list(facts), facts, None)
    confidences = [singletons_at if singletons_at is not None and m.reason == Membership.Reason.SINGLETON else m.confidence
                   for m in near.members] + [score]
    known = [c for c in confidences if c is not None]
    return golden_values, provenance, near.total + 1, min(known) if known else None


def _stay_in_one_statement(record: SourceRecord, entity_type: EntityType, projection, membership: Membership,
                           mine: EntityCandidate, values: dict, user) -> Entity | None:
    """A changed record that still matches its entity stays, in one statement (PostgreSQL, an entity complete as read
    and without overrides, unchanged since); None when that does not apply (nothing written)."""
    near, entity = mine.near, mine.entity
    if connection.vendor != "postgresql" or not near.complete or near.overrides:
        return None
    golden_values, provenance, size, confidence = _golden_as_read(projection, near, record, values, mine.score,
                                                                  singletons_at=None)
    now = timezone.now()
    before = dict(entity.golden)
    change = None
    if golden_values != before:
        after = Entity(id=entity.pk, entity_type=entity_type, golden=golden_values)
        change = _change_fields(after, RunChange.Kind.VALUES, record, user, before=before)
    if not stream_writes.join_entity(entity_id=entity.pk, stamp=entity.updated_at, entity_type_id=entity_type.pk,
                                     record_id=record.pk, score=mine.score, promote_singletons=False, golden=golden_values,
                                     provenance=provenance, size=size, confidence=confidence, change=change, now=now,
                                     membership_id=membership.pk):
        return None
    entity.golden, entity.provenance, entity.size, entity.confidence, entity.updated_at = (
        golden_values, provenance, size, confidence, now)
    return entity


def _join_in_one_statement(record: SourceRecord, entity_type: EntityType, projection, near: NearEntity, values: dict,
                           score: float, user) -> Entity | None:
    """The record joins a complete entity without overrides that nothing changed since the match read it, in one
    statement (stream_writes.join_entity); None when it changed or was retired meanwhile (nothing written)."""
    entity = near.entity
    golden_values, provenance, size, confidence = _golden_as_read(projection, near, record, values, score,
                                                                  singletons_at=score)
    now = timezone.now()
    after = Entity(id=entity.pk, entity_type=entity_type, golden=golden_values)
    change = _change_fields(after, RunChange.Kind.GROWN, record, user, added=[record.pk], before=dict(entity.golden))
    promote = any(m.reason == Membership.Reason.SINGLETON for m in near.members)
    if not stream_writes.join_entity(entity_id=entity.pk, stamp=entity.updated_at, entity_type_id=entity_type.pk,
                                     record_id=record.pk, score=score, promote_singletons=promote, golden=golden_values,
                                     provenance=provenance, size=size, confidence=confidence, change=change, now=now):
        return None
    entity.golden, entity.provenance, entity.size, entity.confidence, entity.updated_at = (
        golden_values, provenance, size, confidence, now)
    return entity


def _fact(record: SourceRecord, values: dict) -> dict:
    """golden.record_facts' facts of the record being placed, from the row in hand."""
    source = record.source
    return {"source_id": record.source_id, "source": source.slug, "priority": source.priority, "key": record.key,
            "version": record.version, "created": record.created_at.timestamp(), "updated": record.updated_at.timestamp(),
            "values": values}


def _locked_as_read(entity: Entity) -> bool | None:
    """Lock the entity (None: another stream retired it meanwhile); True when nothing changed it since it was read.

    Every stream that changes an entity's members or golden record stamps its updated_at, and runs and curator edits
    cannot run meanwhile (they lock the entity type), so an unchanged stamp means the members read are current.
    """
    stamp = Entity.objects.select_for_update().filter(pk=entity.pk, retired_at__isnull=True).order_by().values_list(
        "updated_at", flat=True)[:1]
    stamp = stamp[0] if stamp else None
    if stamp is None:
        return None
    return stamp == entity.updated_at


def _move(record: SourceRecord, entity_type: EntityType, membership: Membership, current: Entity,
          decision: EntityCandidate | None, user) -> tuple[Entity, bool, float | None]:
    """A placed record that no longer belongs to its entity moves to the decision, or to a new entity."""
    target = None
    if decision is not None:
        target, created, score = _still_live(decision.entity), False, decision.score
    if target is None:
        target, created, score = Entity.objects.create(id=uuid.uuid4(), entity_type=entity_type), True, None
    before = dict(target.golden)
    _set_membership(membership, target, score)
    if not created:
        # A singleton that gains a member is now matched by the model, as a batch run would mark it.
        Membership.objects.filter(entity=target, reason=Membership.Reason.SINGLETON).exclude(record=record).update(
            reason=Membership.Reason.MODEL, confidence=score)
    target = _refresh(target, entity_type)
    _change(target, RunChange.Kind.NEW if created else RunChange.Kind.GROWN, record, user, added=[record.pk],
            before=before, related=[str(current.pk)])
    _after_leaving(current, entity_type, record, user, into=target)
    return target, created, score


def _set_membership(membership: Membership, entity: Entity, score: float | None) -> None:
    membership.entity = entity
    membership.reason = Membership.Reason.SINGLETON if score is None else Membership.Reason.MODEL
    membership.confidence, membership.edit, membership.job = score, None, None
    membership.save()


def _after_leaving(entity: Entity, entity_type: EntityType, record: SourceRecord, user, *, into: Entity | None) -> None:
    """The entity a record left: retired with a redirect when empty, else its golden record recomputed."""
    before = dict(entity.golden)
    if not Membership.objects.filter(entity=entity).exists():
        now = timezone.now()
        Entity.objects.filter(pk=entity.pk).update(retired_at=now, retired_into=into, size=0, updated_at=now)
        if into is not None:
            Entity.objects.filter(retired_into=entity).update(retired_into=into)  # redirects stay one hop
        _change(entity, RunChange.Kind.RETIRED, record, user, removed=[record.pk], before=before,
                related=[str(into.pk)] if into else [], after={})
        return
    # A lone remaining member is no longer matched with anyone, as a batch run would say.
    remaining = list(Membership.objects.filter(entity=entity)[:2])
    if len(remaining) == 1 and remaining[0].reason == Membership.Reason.MODEL:
        Membership.objects.filter(pk=remaining[0].pk).update(reason=Membership.Reason.SINGLETON, confidence=None)
    entity = _refresh(entity, entity_type)
    _change(entity, RunChange.Kind.SHRUNK, record, user, removed=[record.pk], before=before,
            related=[str(into.pk)] if into else [])


def _refresh_values(entity: Entity, entity_type: EntityType, record: SourceRecord, user) -> None:
    before = dict(entity.golden)
    entity = _refresh(entity, entity_type)
    if entity.golden != before:
        _change(entity, RunChange.Kind.VALUES, record, user, before=before)


def _refresh(entity: Entity, entity_type: EntityType) -> Entity:
    """The entity with its size, confidence and golden record recomputed from its members."""
    (fresh,) = golden.refresh_entities(entity_type, [entity.pk], projection=cached_projection(entity_type))
    return fresh


def _change(entity: Entity, kind: str, record: SourceRecord, user, *, added=(), removed=(), before=None,
            related=(), after=None) -> None:
    RunChange.objects.create(**_change_fields(entity, kind, record, user, added=added, removed=removed, before=before,
                                              related=related, after=after))


def _change_fields(entity: Entity, kind: str, record: SourceRecord, user, *, added=(), removed=(), before=None,
                   related=(), after=None) -> dict:
    """A RunChange's fields (by column) for a streamed record's change of one entity."""
    return {"entity_type_id": entity.entity_type_id, "entity_id": entity.pk, "kind": kind,
            "user_id": getattr(user, "pk", None),
            "reason": f"streamed record {record.source.slug}:{record.key} (v{record.version})"[:500],
            "added": list(added), "removed": list(removed), "golden_before": before or {},
            "golden_after": entity.golden if after is None else after, "related": list(related)}


def _activity(record: SourceRecord, model: MatchModel, user, what: str, entities: list[Entity]) -> dict:
    return {"kind": Activity.Kind.STREAM, "actor": user, "summary": f"{record.source.name}:{record.key} {what}"[:300],
            "parameters": {"model_version": model.version, "placement": what}, "inputs": [record, model],
            "outputs": entities}


def _lock_blocks(blocks: list[int]) -> None:
    """Serialize streams of records that share a block, so two halves of one new entity cannot both start one.

    Transaction-scoped advisory locks on the block hashes, taken in sorted order so two streams cannot deadlock.
    SQLite needs none: it has one writer for the whole file.
    """
    if blocks and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(b) FROM unnest(%s::bigint[]) AS b", [sorted(set(blocks))])


def _still_live(entity: Entity) -> Entity | None:
    """The entity, locked, if no other stream retired it since the match read it (else None: start a new one)."""
    entity = Entity.objects.select_for_update().filter(pk=entity.pk, retired_at__isnull=True).first()
    return entity


# A batch to a stream-mode source is placed record by record inside its transaction; larger tables belong to a batch
# source and a mastering run.
MAX_BATCH_PLACEMENTS = 10_000


def place_batch(*, batch) -> str:
    """Place every record a batch to a stream-mode source created, changed or retired; returns a warning or ""."""
    from mastering.services.matching import IndexNotReady, NotTrained

    records = SourceRecord.objects.filter(source_id=batch.source_id, changed_batch=batch).select_related("source")
    count = records.count()
    if count > MAX_BATCH_PLACEMENTS:
        return (f"{count:,} records changed: more than the {MAX_BATCH_PLACEMENTS:,} a batch places one by one; "
                "the next mastering run matches them.")
    try:
        with transaction.atomic():  # a savepoint: without a model the records still land, unmatched
            for record in records.order_by("pk").iterator(chunk_size=500):
                place_record(record=record, user=batch.user)
    except (NotTrained, IndexNotReady) as exc:
        return f"Not matched: {exc.message}"
    return ""

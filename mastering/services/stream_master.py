"""Streaming mastering (flow 4): place one stored record of a stream-mode source in an entity, inside its request.

The record joins the best live entity scoring above the threshold (matching.find_matches), or becomes a new
entity; a changed record that no longer matches its entity moves; a retired record leaves; an entity left
empty is retired with a redirect to where its record went. Curator decisions hold as in batch runs: a record
placed by an edit, a pin or an issue stays where it is, a pinned entity gains no member, records marked "not
a match" are never joined, and overrides stay (golden records are recomputed with them).
"""

import uuid
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activity
from mastering.config_cache import cached_projection
from mastering.matchers import matcher_for
from mastering.models import Entity, EntityType, MatchModel, Membership, RunChange, SourceRecord
from mastering.services import golden, match_index
from mastering.services.apart import records_apart_from
from mastering.services.matching import active_model, find_matches

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


def place_record(*, record: SourceRecord, user: AbstractBaseUser | None) -> list[Placement]:
    """Match a stored record and place it in an entity of every entity type its source feeds (NotTrained: no model).

    Runs inside the caller's transaction (the upsert's), so the record and its place commit together.
    """
    assert transaction.get_connection().in_atomic_block, "place_record runs inside the upsert's transaction"
    entity_types = entity_types_of(record)
    models = {et.pk: active_model(et) for et in entity_types}  # every type trained, or nothing is placed
    return [_place(record, entity_type, models[entity_type.pk], user) for entity_type in entity_types]


def _place(record: SourceRecord, entity_type: EntityType, model: MatchModel, user) -> Placement:
    _share_entity_type(entity_type)
    projection = cached_projection(entity_type)
    values = projection.project(record.source_id, record.data)
    blocks = [] if record.retired else match_index.probe_blocks(matcher_for(model), values, record_id=record.pk)
    _lock_blocks([block for _, block in blocks])
    membership = Membership.objects.select_related("entity").filter(entity_type=entity_type, record=record).first()
    current = membership.entity if membership else None
    if record.retired:
        match_index.drop_record(entity_type=entity_type, record_id=record.pk)
        if membership is None:
            return Placement(entity_type, None, "left")
        membership.delete()
        _after_leaving(current, entity_type, record, user, into=None)
        _activity(record, model, user, f"left entity {current.pk}", [current])
        return Placement(entity_type, None, "left", moved_from=str(current.pk))
    match_index.replace_record_keys(entity_type=entity_type, model=model, record_id=record.pk, source_id=record.source_id,
                                    blocks=blocks)
    if membership is not None and (membership.reason in DECIDED or current.pinned):
        _refresh_values(current, entity_type, record, user)
        _activity(record, model, user, f"kept in entity {current.pk} (a curator's decision)", [current])
        return Placement(entity_type, current, "kept")
    apart = records_apart_from(entity_type=entity_type, record_id=record.pk)
    result = find_matches(entity_type=entity_type, values=values, source_id=record.source_id, record_id=record.pk,
                          apart=apart, explain=False, streaming=True, limit=1)
    decision = result.decision
    if current is not None:
        others = Membership.objects.filter(entity=current).exclude(record=record).exists()
        mine = next((c for c in result.ranked if c.entity.pk == current.pk), None)
        if others and mine is not None and mine.score > result.threshold and not mine.blocked:
            _set_membership(membership, current, mine.score)
            _refresh_values(current, entity_type, record, user)
            _activity(record, model, user, f"stayed in entity {current.pk}", [current])
            return Placement(entity_type, current, "stayed", score=mine.score)
        if not others and (decision is None or decision.entity.pk == current.pk):
            _refresh_values(current, entity_type, record, user)
            _activity(record, model, user, f"stayed alone in entity {current.pk}", [current])
            return Placement(entity_type, current, "stayed")
    target = None
    if decision is not None:
        target, created, score = _still_live(decision.entity), False, decision.score
    if target is None:
        target, created, score = Entity.objects.create(id=uuid.uuid4(), entity_type=entity_type), True, None
    before = dict(target.golden)
    if membership is None:
        membership = Membership(entity_type=entity_type, record=record)
    _set_membership(membership, target, score)
    if not created:
        # A singleton that gains a member is now matched by the model, as a batch run would mark it.
        Membership.objects.filter(entity=target, reason=Membership.Reason.SINGLETON).exclude(record=record).update(
            reason=Membership.Reason.MODEL, confidence=score)
    target = _refresh(target, entity_type)
    _change(target, RunChange.Kind.NEW if created else RunChange.Kind.GROWN, record, user, added=[record.pk],
            before=before, related=[str(current.pk)] if current else [])
    if current is not None:
        _after_leaving(current, entity_type, record, user, into=target)
    action = "moved" if current is not None else ("new" if created else "joined")
    _activity(record, model, user, f"{action} entity {target.pk}" + (f" from {current.pk}" if current else ""),
              [target, *([current] if current else [])])
    return Placement(entity_type, target, action, created=created, score=score,
                     moved_from=str(current.pk) if current else None)


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
    RunChange.objects.create(
        entity_type_id=entity.entity_type_id, entity_id=entity.pk, kind=kind, user=user,
        reason=f"streamed record {record.source.slug}:{record.key} (v{record.version})"[:500],
        added=list(added), removed=list(removed), golden_before=before or {},
        golden_after=entity.golden if after is None else after, related=list(related))


def _activity(record: SourceRecord, model: MatchModel, user, what: str, entities: list[Entity]) -> None:
    record_activity(kind=Activity.Kind.STREAM, actor=user, summary=f"{record.source.name}:{record.key} {what}"[:300],
                    parameters={"model_version": model.version, "placement": what}, inputs=[record, model], outputs=entities)


def _share_entity_type(entity_type: EntityType) -> None:
    # Runs finishing and curator edits lock the entity type row FOR UPDATE; streams share it, so they wait for
    # those (and those for them) but not for each other.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM mastering_entitytype WHERE id = %s FOR SHARE", [entity_type.pk])


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

"""Cluster edits by curators: applied to the entities at once, kept by every later run, and learned from."""

import itertools

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from curation.models import CandidatePair, Label
from curation.services.labels import record_label
from mastering.models import ClusterEdit, Entity, Membership, SourceRecord
from mastering.services import entities as mastering_edits

# Labels an edit teaches: enough pairs to carry the signal without flooding training with one decision.
LABELS_PER_EDIT = 5


def _teach(entity: Entity, pairs, answer: str, user: AbstractBaseUser) -> list[Label]:
    chosen = [(a, b) for a, b in itertools.islice(pairs, LABELS_PER_EDIT) if a != b]
    records = {r.pk: r for r in SourceRecord.objects.filter(pk__in={rid for pair in chosen for rid in pair})}
    return [
        record_label(entity_type=entity.entity_type, a=records[a], b=records[b], answer=answer, curator=user,
                     origin=Label.Origin.CLUSTER_EDIT, pair_origin=CandidatePair.Origin.CLUSTER_EDIT)
        for a, b in chosen
    ]


def _members(entity: Entity) -> list[int]:
    return sorted(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))


@transaction.atomic
def split_records(*, entity: Entity, records: list[int], user: AbstractBaseUser, reason: str) -> tuple[ClusterEdit, Entity]:
    """Split records out of an entity; they are labeled 'not a match' with the records that stay."""
    staying = [r for r in _members(entity) if r not in set(records)]
    edit, new_entity = mastering_edits.split_records(entity=entity, records=records, user=user, reason=reason)
    _teach(entity, itertools.product(sorted(records), staying), Label.Answer.DISTINCT, user)
    return edit, new_entity


@transaction.atomic
def move_record(*, entity: Entity, record: int, target: Entity, user: AbstractBaseUser, reason: str) -> ClusterEdit:
    """Move a record to another entity: 'not a match' with its old mates, 'match' with its new ones."""
    old_mates = [r for r in _members(entity) if r != record]
    new_mates = _members(target)
    edit = mastering_edits.move_record(entity=entity, record=record, target=target, user=user, reason=reason)
    _teach(target, ((record, r) for r in old_mates), Label.Answer.DISTINCT, user)
    _teach(target, ((record, r) for r in new_mates), Label.Answer.MATCH, user)
    return edit


@transaction.atomic
def merge_entities(*, survivor: Entity, others: list[Entity], user: AbstractBaseUser, reason: str) -> ClusterEdit:
    """Merge entities; their records are labeled 'match' with the survivor's."""
    anchors = _members(survivor)[:1]
    other_records = [r for other in others for r in _members(other)[:2]]
    edit = mastering_edits.merge_entities(survivor=survivor, others=others, user=user, reason=reason)
    _teach(survivor, itertools.product(anchors, other_records), Label.Answer.MATCH, user)
    return edit


def pin_entity(*, entity: Entity, user: AbstractBaseUser, reason: str, pinned: bool = True) -> ClusterEdit:
    """Pin or unpin an entity (no labels: a pin says nothing about which pairs match)."""
    return mastering_edits.pin_entity(entity=entity, user=user, reason=reason, pinned=pinned)

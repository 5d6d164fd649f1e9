"""Cluster edits teach the model: each split, move and merge a curator makes becomes a few labels.

Mastering applies the edits (mastering.services.entities); curation registers `learn_from_edit` when it loads.
"""

import itertools

from curation.models import CandidatePair, Label
from curation.services.labels import record_label
from mastering.models import ClusterEdit, SourceRecord

# Labels an edit teaches: enough pairs to carry the signal without flooding training with one decision.
LABELS_PER_EDIT = 5


def learn_from_edit(edit: ClusterEdit, members_before: dict[str, set[int]]) -> list[Label]:
    """Label pairs the edit decided: split and move say 'not a match' with the old mates, move and merge 'match'."""
    before = {entity_id: sorted(members) for entity_id, members in members_before.items()}
    if edit.kind == ClusterEdit.Kind.SPLIT:
        split_out = sorted(edit.records)
        staying = [r for r in before[str(edit.entity_id)] if r not in set(split_out)]
        return _teach(edit, itertools.product(split_out, staying), Label.Answer.DISTINCT)
    if edit.kind == ClusterEdit.Kind.MOVE:
        record, (left,) = edit.records[0], edit.other_entities
        old_mates = [r for r in before[left] if r != record]
        return (_teach(edit, ((record, r) for r in old_mates), Label.Answer.DISTINCT)
                + _teach(edit, ((record, r) for r in before[str(edit.entity_id)]), Label.Answer.MATCH))
    if edit.kind == ClusterEdit.Kind.MERGE:
        anchors = before[str(edit.entity_id)][:1]
        merged_in = [r for other in edit.other_entities for r in before[other][:2]]
        return _teach(edit, itertools.product(anchors, merged_in), Label.Answer.MATCH)
    return []  # a pin says nothing about which pairs match


def _teach(edit: ClusterEdit, pairs, answer: str) -> list[Label]:
    chosen = [(a, b) for a, b in itertools.islice(pairs, LABELS_PER_EDIT) if a != b]
    records = {r.pk: r for r in SourceRecord.objects.filter(pk__in={rid for pair in chosen for rid in pair})}
    return [
        record_label(entity_type=edit.entity_type, a=records[a], b=records[b], answer=answer, curator=edit.user,
                     origin=Label.Origin.CLUSTER_EDIT, pair_origin=CandidatePair.Origin.CLUSTER_EDIT)
        for a, b in chosen
    ]

"""Labels outside the queue: import, revoke, adjudicate."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.rules import ensure_allowed
from curation.models import CandidatePair, Label
from lineage.models import Activity
from lineage.services import record_activity
from mastering.engine import ordered
from mastering.mapping import projection_for
from mastering.models import EntityType, SourceRecord
from steward.errors import InvalidInput, ServiceError

ANSWER_WORDS = {
    "match": Label.Answer.MATCH, "y": Label.Answer.MATCH, "yes": Label.Answer.MATCH, "1": Label.Answer.MATCH,
    "true": Label.Answer.MATCH, "same": Label.Answer.MATCH,
    "distinct": Label.Answer.DISTINCT, "n": Label.Answer.DISTINCT, "no": Label.Answer.DISTINCT, "0": Label.Answer.DISTINCT,
    "false": Label.Answer.DISTINCT, "different": Label.Answer.DISTINCT, "not a match": Label.Answer.DISTINCT,
    "unsure": Label.Answer.UNSURE, "u": Label.Answer.UNSURE,
}


def pair_for(*, entity_type: EntityType, a: SourceRecord, b: SourceRecord, origin: str) -> CandidatePair:
    """The candidate pair of two records, created when new."""
    if a.pk == b.pk:
        raise InvalidInput("A record cannot be paired with itself.")
    left, right = ordered(a.pk, b.pk)
    pair, _ = CandidatePair.objects.get_or_create(
        entity_type=entity_type, left_id=left, right_id=right,
        defaults={"origin": origin, "status": CandidatePair.Status.DONE, "answers_needed": 1},
    )
    return pair


@transaction.atomic
def record_label(*, entity_type: EntityType, a: SourceRecord, b: SourceRecord, answer: str, curator: AbstractBaseUser,
                 origin: str, pair_origin: str, origin_note: str = "") -> Label:
    """A label given outside the queue (edit, issue): replaces the same person's earlier answer on that pair."""
    pair = pair_for(entity_type=entity_type, a=a, b=b, origin=pair_origin)
    now = timezone.now()
    Label.objects.active().filter(pair=pair, curator=curator).update(revoked_at=now, revoked_by=curator,
                                                                      revoke_reason=f"replaced by a {origin} label")
    label = Label.objects.create(pair=pair, curator=curator, answer=answer, origin=origin, origin_note=origin_note)
    CandidatePair.objects.filter(pk=pair.pk, status=CandidatePair.Status.OPEN).update(status=CandidatePair.Status.DONE)
    return label


@transaction.atomic
def import_labels(*, entity_type: EntityType, rows: list[dict], curator: AbstractBaseUser) -> dict:
    """Import existing labels ({left: {source, key}, right: {source, key}, answer}); all rows or none."""
    projection = projection_for(entity_type)
    problems, resolved = [], []
    keys = {(side["source"], str(side["key"])) for row in rows for side in (row.get("left") or {}, row.get("right") or {})
            if isinstance(side, dict) and "source" in side and "key" in side}
    records = {}
    for record in SourceRecord.objects.filter(source_id__in=projection.source_ids, key__in=[k for _, k in keys]).select_related("source"):
        records[(record.source.slug, record.key)] = record
    for index, row in enumerate(rows, start=1):
        try:
            left = records[(row["left"]["source"], str(row["left"]["key"]))]
            right = records[(row["right"]["source"], str(row["right"]["key"]))]
        except (KeyError, TypeError):
            problems.append({"row": index, "reason": "left or right record not found among this entity type's sources"})
            continue
        answer = ANSWER_WORDS.get(str(row.get("answer", "")).strip().lower())
        if answer is None:
            problems.append({"row": index, "reason": f"answer {row.get('answer')!r} is not match, distinct or unsure"})
            continue
        if left.pk == right.pk:
            problems.append({"row": index, "reason": "both sides are the same record"})
            continue
        resolved.append((left, right, answer))
    if problems:
        raise InvalidInput(f"{len(problems)} of {len(rows)} rows cannot be imported; nothing was imported.", problems=problems)
    labels = [record_label(entity_type=entity_type, a=a, b=b, answer=answer, curator=curator, origin=Label.Origin.IMPORT,
                           pair_origin=CandidatePair.Origin.IMPORTED) for a, b, answer in resolved]
    record_activity(kind=Activity.Kind.LABEL, actor=curator, summary=f"Imported {len(labels)} labels for {entity_type.name}",
                    inputs=[entity_type], parameters={"imported": len(labels)})
    return {"imported": len(labels)}


@transaction.atomic
def revoke_label(*, label: Label, by: AbstractBaseUser, reason: str) -> Label:
    """Keep a label for the record but stop training on it."""
    ensure_allowed(by, "curation.revoke_label", label, message="Only its curator or a steward can revoke a label.")
    if not Label.objects.filter(pk=label.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=by, revoke_reason=reason[:200]):
        raise ServiceError(f"Label {label.pk} was already revoked.")
    label.refresh_from_db()
    pair = label.pair
    from curation.services.queue import settle_pair

    settle_pair(pair)
    record_activity(kind=Activity.Kind.LABEL, actor=by, summary=f"Revoked label {label.pk}: {reason}", outputs=[label])
    return label


@transaction.atomic
def adjudicate_pair(*, pair: CandidatePair, steward: AbstractBaseUser, answer: str) -> Label:
    """Settle a pair the curators disagree on; the steward's answer is what training uses."""
    if pair.status != CandidatePair.Status.DISPUTED:
        raise ServiceError(f"Pair {pair.pk} is not disputed.")
    if answer not in (Label.Answer.MATCH, Label.Answer.DISTINCT):
        raise InvalidInput("Adjudicate with match or distinct.")
    Label.objects.active().filter(pair=pair, curator=steward, origin=Label.Origin.ADJUDICATION).update(
        revoked_at=timezone.now(), revoked_by=steward, revoke_reason="adjudicated again")
    label = Label.objects.create(pair=pair, curator=steward, answer=answer, origin=Label.Origin.ADJUDICATION)
    CandidatePair.objects.filter(pk=pair.pk).update(status=CandidatePair.Status.DONE)
    record_activity(kind=Activity.Kind.LABEL, actor=steward, summary=f"Pair {pair.pk} adjudicated: {label.get_answer_display()}",
                    inputs=[pair], outputs=[label])
    return label

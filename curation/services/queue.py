"""The multi-curator labeling queue: claim under a lease, answer, skip, undo."""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.rules import ensure_allowed
from curation import selectors
from curation.models import CandidatePair, Label
from lineage.models import Activity
from lineage.services import record_activity
from mastering.models import EntityType, Job
from steward.errors import ServiceError

CLAIM_TTL = timedelta(minutes=10)
# Refill early and little: each refill asks the learner again, after the answers given since.
QUEUE_LOW_WATER = 3


class PairNotClaimed(ServiceError):
    pass


class NothingToUndo(ServiceError):
    pass


def claim_next_pair(*, curator: AbstractBaseUser, entity_type: EntityType) -> CandidatePair | None:
    """Hand the curator the most urgent open pair that nobody else holds; keep one they already hold."""
    now = timezone.now()
    answered = Label.objects.filter(curator=curator, revoked_at__isnull=True).values("pair_id")
    held = (
        CandidatePair.objects.open()
        .filter(entity_type=entity_type, claimed_by=curator, claimed_until__gt=now)
        .exclude(pk__in=answered)
        .order_by("priority", "id")
        .first()
    )
    if held is not None:
        CandidatePair.objects.filter(pk=held.pk).update(claimed_until=now + CLAIM_TTL)
        held.refresh_from_db()
        return held
    for pair_id in selectors.queue_pair_ids(entity_type=entity_type, curator=curator, now=now)[:20]:
        # Compare-and-set: correct on SQLite and PostgreSQL alike; losing a race just tries the next id.
        won = (
            CandidatePair.objects.claimable_by(curator, now)
            .filter(pk=pair_id)
            .update(claimed_by=curator, claimed_until=now + CLAIM_TTL)
        )
        if won:
            return CandidatePair.objects.select_related("left__source", "right__source").get(pk=pair_id)
    return None


@transaction.atomic
def answer_pair(*, pair: CandidatePair, curator: AbstractBaseUser, answer: str, seconds_spent: float | None = None,
                origin: str = Label.Origin.QUEUE) -> Label:
    """Record the curator's answer for a pair they hold, release it, and keep the model learning."""
    now = timezone.now()
    released = CandidatePair.objects.filter(pk=pair.pk, claimed_by=curator, claimed_until__gt=now, status=CandidatePair.Status.OPEN)
    if released.update(claimed_by=None, claimed_until=None) != 1:
        raise PairNotClaimed(
            f"You no longer hold pair {pair.pk} (your 10-minute lease ran out or it was answered); "
            "fetch the next pair."
        )
    if answer not in Label.Answer.values:
        raise ServiceError(f"Unknown answer {answer!r}; use match, distinct or unsure.")
    label = Label.objects.create(pair=pair, curator=curator, answer=answer, origin=origin, model_id=pair.model_id,
                                 seconds_spent=None if seconds_spent is None else max(0.0, min(float(seconds_spent), 3600.0)))
    settle_pair(pair)
    record_activity(kind=Activity.Kind.LABEL, actor=curator, summary=f"Pair {pair.pk}: {label.get_answer_display()}",
                    inputs=[pair], outputs=[label], parameters={"answer": answer, "origin": origin})
    _keep_learning(pair.entity_type_id)
    return label


def settle_pair(pair: CandidatePair) -> None:
    """Close a pair once it has enough answers; answers that disagree go to a steward."""
    counts = Label.objects.active().filter(pair=pair).aggregate(
        total=Count("id"), match=Count("id", filter=Q(answer=Label.Answer.MATCH)),
        distinct=Count("id", filter=Q(answer=Label.Answer.DISTINCT)),
    )
    if counts["total"] < pair.answers_needed:
        status = CandidatePair.Status.OPEN
    elif counts["match"] and counts["distinct"]:
        status = CandidatePair.Status.DISPUTED
    else:
        status = CandidatePair.Status.DONE
    CandidatePair.objects.filter(pk=pair.pk).update(status=status)
    pair.status = status


def _keep_learning(entity_type_id: int) -> None:
    """After an answer: retrain every N new labels, and top the queue up when it runs low."""
    from mastering.services import start_job
    from mastering.services.jobs import JobAlreadyRunning

    entity_type = EntityType.objects.get(pk=entity_type_id)

    def kick(kind: str) -> None:
        try:
            start_job(entity_type=entity_type, kind=kind)
        except JobAlreadyRunning:
            pass

    if selectors.ready_to_retrain(entity_type=entity_type):
        kick(Job.Kind.TRAIN)
    elif selectors.open_pair_count(entity_type=entity_type) < QUEUE_LOW_WATER:
        kick(Job.Kind.PREPARE_QUEUE)


def skip_pair(*, pair: CandidatePair, curator: AbstractBaseUser) -> None:
    """Give a held pair back and move it behind the others, so the curator gets a different one."""
    CandidatePair.objects.filter(pk=pair.pk, claimed_by=curator).update(
        claimed_by=None, claimed_until=None, priority=F("priority") + 1_000_000
    )


def release_pair(*, pair: CandidatePair, curator: AbstractBaseUser) -> None:
    """Give a held pair back without answering it."""
    CandidatePair.objects.filter(pk=pair.pk, claimed_by=curator).update(claimed_by=None, claimed_until=None)


@transaction.atomic
def undo_last_answer(*, curator: AbstractBaseUser, entity_type: EntityType) -> CandidatePair:
    """Take back the curator's own latest queue answer and hand them that pair again."""
    label = (
        Label.objects.active()
        .filter(curator=curator, pair__entity_type=entity_type, origin=Label.Origin.QUEUE)
        .select_related("pair")
        .order_by("-created_at", "-id")
        .first()
    )
    if label is None:
        raise NothingToUndo("You have no answer to take back here.")
    ensure_allowed(curator, "curation.undo_answer", label, message="Your role no longer allows labeling, so answers cannot be taken back.")
    now = timezone.now()
    pair = label.pair
    # Compare-and-set: take the pair back only if nobody else holds it right now.
    taken = CandidatePair.objects.filter(pk=pair.pk).filter(
        Q(claimed_by__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=curator)
    ).update(claimed_by=curator, claimed_until=now + CLAIM_TTL)
    if not taken:
        raise ServiceError("Another curator is looking at that pair right now; try again in a moment.")
    if not Label.objects.filter(pk=label.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=curator, revoke_reason="undone by its curator"):
        raise NothingToUndo("That answer was already taken back.")
    settle_pair(pair)
    record_activity(kind=Activity.Kind.LABEL, actor=curator, summary=f"Pair {pair.pk}: answer undone",
                    inputs=[pair], outputs=[label], parameters={"undo": True})
    pair.refresh_from_db()
    return pair

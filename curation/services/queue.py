"""The multi-curator labeling queue: claim under a lease, answer, skip, undo."""

from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.rules import ensure_allowed
from curation import queue_sql, selectors
from curation.models import CandidatePair, Label
from lineage.models import Activity
from lineage.services import record_activity
from mastering.models import EntityType, Job
from steward.errors import ServiceError

CLAIM_TTL = timedelta(minutes=10)
# A claim that loses a race to another curator tries the next pair, this many times in all.
CLAIM_ATTEMPTS = 20


class PairNotClaimed(ServiceError):
    pass


class NothingToUndo(ServiceError):
    pass


def claim_next_pair(*, curator: AbstractBaseUser, entity_type: EntityType) -> CandidatePair | None:
    """Hand the curator the most urgent open pair that nobody else holds; keep one they already hold."""
    for _ in range(CLAIM_ATTEMPTS):
        now = timezone.now()
        with transaction.atomic():
            # One read picks the pair and loads both records for the card. On PostgreSQL the pick locks that row
            # and skips rows other claims have locked, so fifty curators do not queue up behind the first pair.
            # Both statements are selectors.next_pair_to_claim and claimable_by written once as SQL (queue_sql).
            pair = queue_sql.pick_pair(entity_type_id=entity_type.pk, curator_id=curator.pk, now=now)
            if pair is None:
                return None
            # Compare-and-set: correct on SQLite too (where the lock above is ignored); losing a race tries again.
            won = queue_sql.claim_pair(pair_id=pair.pk, curator_id=curator.pk, now=now, until=now + CLAIM_TTL)
        if won:
            pair.entity_type = entity_type
            pair.claimed_by, pair.claimed_until = curator, now + CLAIM_TTL
            return pair
    return None


@transaction.atomic
def answer_pair(*, pair: CandidatePair, curator: AbstractBaseUser, answer: str, seconds_spent: float | None = None,
                origin: str = Label.Origin.QUEUE) -> Label:
    """Record the curator's answer for a pair they hold, release it, and keep the model learning."""
    if answer not in Label.Answer.values:
        raise ServiceError(f"Unknown answer {answer!r}; use match, distinct or unsure.")
    not_held = PairNotClaimed(
        f"You no longer hold pair {pair.pk} (your 10-minute lease ran out or it was answered); fetch the next pair."
    )
    # The label goes in first, so that one compare-and-set UPDATE both releases the pair and settles it from its
    # answers, this one included; when the curator does not hold the pair, raising undoes the insert.
    try:
        label = Label.objects.create(pair=pair, curator=curator, answer=answer, origin=origin, model_id=pair.model_id,
                                     seconds_spent=None if seconds_spent is None else max(0.0, min(float(seconds_spent), 3600.0)))
    except IntegrityError:  # their active answer is already there: a second click of the same answer
        raise not_held from None
    if "model" in pair._state.fields_cache:
        label.model = pair.model  # already loaded with the pair: the response shows its version without a query
    # One UPDATE releases the pair and settles it (selectors.settled_status, written as SQL in queue_sql).
    released = queue_sql.release_answered_pair(pair_id=pair.pk, curator_id=curator.pk, now=timezone.now())
    if not released:
        raise not_held
    pair.claimed_by = pair.claimed_until = None
    del pair.status  # settled in the database by the UPDATE: reading it loads the new value
    record_activity(kind=Activity.Kind.LABEL, actor=curator, summary=f"Pair {pair.pk}: {label.get_answer_display()}",
                    inputs=[pair], outputs=[label], parameters={"answer": answer, "origin": origin})
    _keep_learning(pair.entity_type_id)
    return label


def settle_pair(pair: CandidatePair) -> None:
    """Close a pair once it has enough answers; answers that disagree go to a steward."""
    CandidatePair.objects.filter(pk=pair.pk).update(status=selectors.settled_status())
    pair.refresh_from_db(fields=["status"])


def _keep_learning(entity_type_id: int) -> None:
    """After an answer: retrain every N new labels, and top the queue up when it runs low.

    One query decides; a job starts (a Celery task, or in-process without a broker) only when one is due.
    """
    from mastering.services import start_job
    from mastering.services.jobs import JobAlreadyRunning

    state = selectors.learning_state(entity_type_id=entity_type_id)
    if state.training_live:  # it refills the queue when it ends
        return
    entity_type = state.entity_type
    # Too few answers of each kind behind the active model (or none yet) to decide by counting: ask the full rule.
    due = selectors.ready_to_retrain(entity_type=entity_type) if state.retrain_due is None else state.retrain_due
    kind = Job.Kind.TRAIN if due else Job.Kind.PREPARE_QUEUE if state.queue_low and not state.filling_live else None
    if kind is not None:
        try:
            start_job(entity_type=entity_type, kind=kind)
        except JobAlreadyRunning:
            pass


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

"""What the queue has for a curator right now: a pair, or why not and what happens next."""

from dataclasses import dataclass

from curation import selectors, services
from curation.models import CandidatePair
from curation.services.learning import NotEnoughData
from mastering.mapping import projection_for
from mastering.models import EntityType, Job
from mastering.services import start_job
from mastering.services.jobs import JobAlreadyRunning, fail_stale_jobs


@dataclass
class QueueState:
    pair: CandidatePair | None
    state: str  # pair | preparing | empty | unmapped | loading (a page shown by GET, which asks for its pair by POST)
    message: str = ""
    retry_after: int | None = None


def next_for(*, curator, entity_type: EntityType) -> QueueState:
    """Claim the next pair; when there is none, start filling the queue (without anyone pressing a button)."""
    pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
    if pair is not None:
        return QueueState(pair, "pair")
    if not projection_for(entity_type).source_ids:
        return QueueState(None, "unmapped", f"No source is mapped into {entity_type.name} yet; an admin maps sources in admin.")
    fail_stale_jobs(entity_type=entity_type, kinds=[Job.Kind.PREPARE_QUEUE, Job.Kind.TRAIN])
    live = Job.objects.filter(entity_type=entity_type, kind__in=[Job.Kind.PREPARE_QUEUE, Job.Kind.TRAIN],
                              status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).first()
    if live is None:
        try:
            live = start_job(entity_type=entity_type, kind=Job.Kind.PREPARE_QUEUE, user=curator)
        except JobAlreadyRunning as exc:
            live = exc.job
        except NotEnoughData as exc:
            return QueueState(None, "unmapped", exc.message)
        live.refresh_from_db()
        if live.status == Job.Status.DONE:  # ran in-process (no broker): the queue may have pairs now
            pair = services.claim_next_pair(curator=curator, entity_type=entity_type)
            if pair is not None:
                return QueueState(pair, "pair")
            return QueueState(None, "empty", _empty_message(entity_type))
        if live.status == Job.Status.FAILED:
            return QueueState(None, "empty", f"Preparing pairs failed: {live.error}")
    if live.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        return QueueState(None, "preparing", f"Steward is choosing pairs for you ({live.get_kind_display().lower()})…", retry_after=3)
    return QueueState(None, "empty", _empty_message(entity_type))


def _empty_message(entity_type: EntityType) -> str:
    counts = selectors.pair_counts(entity_type=entity_type)
    if counts.get(CandidatePair.Status.OPEN):
        return "Every open pair is with another curator or already answered by you. Come back in a few minutes."
    return ("Nothing is left to label: the model is sure about every pair it can find. "
            "Run a mastering job, or check back after new data arrives.")

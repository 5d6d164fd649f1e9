"""Reads for the queue, labels, agreement and training."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Floor
from django.utils import timezone

from curation import queue_sql
from curation.models import CandidatePair, Label
from mastering.engine import LabeledPair
from mastering.matchers import matcher_for
from mastering.models import EntityType, Job, MatchModel
from mastering.selectors import match_threshold_for

MIN_LABELS_PER_ANSWER = 3
# Below this many open pairs an answer starts a queue fill: refill early and little, each asks the learner again.
QUEUE_LOW_WATER = 3


def next_pair_to_claim(*, entity_type: EntityType, curator, now: datetime) -> QuerySet[CandidatePair]:
    """The pair the curator should get next: one they hold and have not answered, else the most urgent claimable one.

    Each choice is an id-only subquery that walks an index and stops at its first row, so the cost does not grow
    with the queue; on PostgreSQL the second one locks its row and skips rows other claims have locked.
    """
    claimable = CandidatePair.objects.claimable_by(curator, now).filter(entity_type=entity_type)
    held = claimable.filter(claimed_by=curator, claimed_until__gt=now).order_by("priority", "id").values("pk")[:1]
    most_urgent = claimable.order_by("priority", "id").select_for_update(skip_locked=True).values("pk")[:1]
    return CandidatePair.objects.filter(pk=Coalesce(Subquery(held), Subquery(most_urgent)))


def settled_status() -> Case:
    """A pair's status from its active answers (an UPDATE expression): open until it has as many as it needs,
    then disputed when some say match and some not a match, else done."""
    answers = Label.objects.active().filter(pair=OuterRef("pk")).order_by()
    count = answers.values("pair").annotate(n=Count("pk")).values("n")
    return Case(
        When(answers_needed__gt=Coalesce(Subquery(count), 0), then=Value(CandidatePair.Status.OPEN)),
        When(Q(Exists(answers.filter(answer=Label.Answer.MATCH))) & Q(Exists(answers.filter(answer=Label.Answer.DISTINCT))),
             then=Value(CandidatePair.Status.DISPUTED)),
        default=Value(CandidatePair.Status.DONE),
    )


def open_pair_count(*, entity_type: EntityType) -> int:
    """Pairs still waiting for answers."""
    return CandidatePair.objects.open().filter(entity_type=entity_type).count()


def list_labels(*, entity_type: EntityType | None = None) -> QuerySet[Label]:
    """Labels with their pair's records, curator and model loaded."""
    labels = Label.objects.select_related("curator", "pair__left__source", "pair__right__source", "pair__entity_type", "model")
    return labels.filter(pair__entity_type=entity_type) if entity_type is not None else labels


DECISIVE_ORIGINS = (Label.Origin.ADJUDICATION, Label.Origin.CLUSTER_EDIT, Label.Origin.ISSUE)


def resolved_answers(*, entity_type: EntityType) -> dict[int, tuple[int, int, bool]]:
    """Pair id → (left, right, is match).

    A steward's adjudication, a curator's cluster edit or an issue resolution decides a pair (the latest
    such decision wins); otherwise the majority of queue and imported answers does. Ties and 'unsure' say nothing.
    """
    votes: dict[int, dict] = {}
    labels = (
        Label.objects.active()
        .filter(pair__entity_type=entity_type)
        .exclude(answer=Label.Answer.UNSURE)
        .order_by("created_at", "id")
        .values_list("pair_id", "pair__left_id", "pair__right_id", "answer", "origin")
    )
    for pair_id, left, right, answer, origin in labels:
        vote = votes.setdefault(pair_id, {"left": left, "right": right, "match": 0, "distinct": 0, "decided": None})
        if origin in DECISIVE_ORIGINS:
            vote["decided"] = answer == Label.Answer.MATCH
        else:
            vote[answer] += 1
    resolved = {}
    for pair_id, vote in votes.items():
        if vote["decided"] is not None:
            resolved[pair_id] = (vote["left"], vote["right"], vote["decided"])
        elif vote["match"] != vote["distinct"]:
            resolved[pair_id] = (vote["left"], vote["right"], vote["match"] > vote["distinct"])
    return resolved


def training_labels(*, entity_type: EntityType) -> list[LabeledPair]:
    """The labels a training run learns from, one per pair."""
    return [LabeledPair(left, right, match) for left, right, match in resolved_answers(entity_type=entity_type).values()]


def label_counts(*, entity_type: EntityType) -> dict[str, int]:
    """How many pairs are decided, and how many of them as match and as not a match."""
    answers = [match for _, _, match in resolved_answers(entity_type=entity_type).values()]
    return {"labels": len(answers), "match": sum(answers), "distinct": len(answers) - sum(answers)}


def ready_to_retrain(*, entity_type: EntityType) -> bool:
    """Enough new labels since the active model, and both answers given a few times."""
    counts = label_counts(entity_type=entity_type)
    if min(counts["match"], counts["distinct"]) < MIN_LABELS_PER_ANSWER:
        return False
    model = entity_type.active_model
    trained_on = model.label_count if model is not None else 0
    return model is None or counts["labels"] - trained_on >= entity_type.retrain_every


@dataclass
class LearningState:
    entity_type: EntityType
    retrain_due: bool | None  # None: the active model has too few answers of each kind behind it to decide by counting
    queue_low: bool
    training_live: bool
    filling_live: bool


def learning_state_query(*, entity_type_id: int) -> QuerySet[EntityType]:
    """What an answer needs to decide on retraining and refilling, in one query that reads only recent rows.

    Answers since the active model are those given after its training started (the labels it read then). This is the
    definition; answers run the same statement written as SQL (queue_sql.learning_row), checked against this one.
    """
    from mastering.services.liveness import stale_before

    model = MatchModel.objects.filter(entity_type=OuterRef("pk"), active=True).order_by("-version")
    since = (Label.objects.active().filter(pair__entity_type=OuterRef("pk"), created_at__gt=OuterRef("trained_from"))
             .order_by().values("pair__entity_type").annotate(n=Count("pk")).values("n"))
    jobs = Job.objects.filter(entity_type=OuterRef("pk"), status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).filter(
        Q(status=Job.Status.QUEUED) | Q(heartbeat_at__gt=stale_before()))  # a stale one is swept by start_job
    open_pairs = CandidatePair.objects.open().filter(entity_type=OuterRef("pk")).order_by().values("pk")
    return (
        EntityType.objects.filter(pk=entity_type_id)
        .annotate(model_matches=Subquery(model.values("match_count")[:1]),
                  model_distincts=Subquery(model.values("distinct_count")[:1]),
                  trained_from=Subquery(model.annotate(t=Coalesce("job__started_at", "created_at")).values("t")[:1]),
                  trained_until=Subquery(model.values("job__finished_at")[:1]))
        .annotate(answers_since=Coalesce(Subquery(since), 0),
                  enough_open=Exists(open_pairs[QUEUE_LOW_WATER - 1:QUEUE_LOW_WATER]),
                  training_live=Exists(jobs.filter(kind=Job.Kind.TRAIN)),
                  filling_live=Exists(jobs.filter(kind=Job.Kind.PREPARE_QUEUE)))
    )


def pair_with_card(pair_id: str | int) -> CandidatePair | None:
    """A pair by id (None for none or a malformed id) with both records, their sources, its entity type and its model
    (without the model's heavy fields): CandidatePair.objects.select_related(...), written as SQL in queue_sql."""
    try:
        pair_id = int(pair_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pair_id < 2**63:  # the ORM finds nothing for an id out of the column's range; the database would refuse it
        return None
    return queue_sql.pair_with_card(pair_id=pair_id)


def training_paused(trained_from: datetime | None, trained_until: datetime | None, now: datetime | None = None) -> bool:
    """Whether the pause after the active model's training runs still: STEWARD_RETRAIN_PAUSE_PERCENT of the time it took.

    With fifty curators, retrain_every answers come in well under a second, so without a pause the worker trains
    back to back for as long as they answer: a core taken from the requests for models hardly better than the last.
    The pause bounds training to 1 / (1 + pause) of a worker's time (a half by default); a training that is due
    starts with the first answer after the pause.
    """
    if trained_from is None or trained_until is None:
        return False
    pause = (trained_until - trained_from) * settings.STEWARD_RETRAIN_PAUSE_PERCENT / 100
    return (now or timezone.now()) < trained_until + pause


def learning_state(*, entity_type_id: int) -> LearningState:
    """What an answer needs to decide on retraining and refilling (learning_state_query, run as written SQL)."""
    from mastering.services.liveness import stale_before

    entity_type, matches, distincts, trained_from, trained_until, since, enough_open, training, filling = (
        queue_sql.learning_row(entity_type_id=entity_type_id, open_needed=QUEUE_LOW_WATER, stale_before=stale_before()))
    countable = trained_from is not None and min(matches, distincts) >= MIN_LABELS_PER_ANSWER
    return LearningState(
        entity_type=entity_type,
        retrain_due=(since >= entity_type.retrain_every and not training_paused(trained_from, trained_until))
        if countable else None,
        queue_low=not enough_open, training_live=training, filling_live=filling,
    )


def labels_until_retrain(*, entity_type: EntityType) -> int:
    """Answers still needed before the next automatic training."""
    counts = label_counts(entity_type=entity_type)
    model = entity_type.active_model
    trained_on = model.label_count if model is not None else 0
    by_count = max(0, entity_type.retrain_every - (counts["labels"] - trained_on)) if model is not None else 0
    short_of_each = max(0, MIN_LABELS_PER_ANSWER - counts["match"]) + max(0, MIN_LABELS_PER_ANSWER - counts["distinct"])
    return max(by_count, short_of_each)


def curator_progress(*, entity_type: EntityType, curator) -> dict:
    """My answers today and in all, everyone's answers, and what is left in the queue."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    mine = Label.objects.active().filter(pair__entity_type=entity_type, curator=curator)
    return {
        "mine_today": mine.filter(created_at__gte=today).count(),
        "mine_total": mine.count(),
        "total": Label.objects.active().filter(pair__entity_type=entity_type).count(),
        "open_pairs": open_pair_count(entity_type=entity_type),
        "until_retrain": labels_until_retrain(entity_type=entity_type),
    }


def agreement(*, entity_type: EntityType) -> dict:
    """Agreement on pairs answered by more than one curator: overall and per curator."""
    labels = (
        Label.objects.active().filter(pair__entity_type=entity_type, origin=Label.Origin.QUEUE)
        .exclude(answer=Label.Answer.UNSURE).values_list("pair_id", "curator__username", "answer")
    )
    by_pair: dict[int, list[tuple[str, str]]] = {}
    for pair_id, username, answer in labels:
        by_pair.setdefault(pair_id, []).append((username, answer))
    shared = {pid: votes for pid, votes in by_pair.items() if len(votes) > 1}
    per_curator: dict[str, list[int]] = {}
    agreeing = 0
    for votes in shared.values():
        unanimous = len({answer for _, answer in votes}) == 1
        agreeing += unanimous
        for username, answer in votes:
            others = [a for u, a in votes if u != username]
            stats = per_curator.setdefault(username, [0, 0])
            stats[0] += sum(a == answer for a in others)
            stats[1] += len(others)
    return {
        "pairs": len(shared),
        "rate": round(agreeing / len(shared), 3) if shared else None,
        "curators": [{"curator": u, "rate": round(a / n, 3) if n else None, "compared": n} for u, (a, n) in sorted(per_curator.items())],
    }


def disputed_pairs(*, entity_type: EntityType | None = None) -> QuerySet[CandidatePair]:
    """Pairs whose curators disagree, with their labels."""
    pairs = CandidatePair.objects.filter(status=CandidatePair.Status.DISPUTED).select_related(
        "entity_type", "left__source", "right__source").prefetch_related("labels__curator")
    return pairs.filter(entity_type=entity_type) if entity_type is not None else pairs


def last_label_of(*, curator, entity_type: EntityType) -> Label | None:
    """The curator's latest queue answer here, the one undo takes back."""
    return (Label.objects.active().filter(curator=curator, pair__entity_type=entity_type, origin=Label.Origin.QUEUE)
            .order_by("-created_at", "-id").first())


def pair_counts(*, entity_type: EntityType) -> dict[str, int]:
    """Pairs by status."""
    rows = CandidatePair.objects.filter(entity_type=entity_type).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def quality_on_labels(*, entity_type: EntityType, model: MatchModel | None) -> dict | None:
    """For a model with no quality estimate of its own: precision and recall at the clustering threshold, measured
    on the labelled pairs (the same figures as Diagnostics). Cached per model and label count: the card asks often.

    None when there is no model, no threshold or no labelled match to measure against.
    """
    from django.core.cache import cache

    if model is None:
        return None
    threshold = match_threshold_for(entity_type=entity_type, model=model)
    if threshold is None:
        return None
    labels = training_labels(entity_type=entity_type)
    key = f"curation:quality-on-labels:{model.pk}:{len(labels)}:{threshold}"
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    point = None
    for row in label_curve(entity_type=entity_type, model=model, labels=labels, thresholds=[threshold]):
        if row["precision"] is not None and row["recall"] is not None:
            point = {**row, "labels": len(labels)}
    cache.set(key, point or {}, 600)
    return point


def label_curve(*, entity_type: EntityType, model: MatchModel, labels: list[LabeledPair], thresholds) -> list[dict]:
    """Precision and recall of the model on the labelled pairs at each threshold."""
    from mastering.mapping import mapped_records, projection_for

    if not labels:
        return []
    records = mapped_records(projection_for(entity_type), record_ids={rid for label in labels for rid in label.key})
    pairs = [label.key for label in labels if label.key[0] in records and label.key[1] in records]
    truth = {label.key: label.match for label in labels}
    scored = {}
    for chunk in matcher_for(model).score(pairs, records):
        for (a, b), s in zip(chunk["pairs"].tolist(), chunk["score"].tolist()):
            scored[(a, b)] = s
    positives = sum(truth[p] for p in scored)
    curve = []
    for threshold in thresholds:
        predicted = [p for p, s in scored.items() if s >= threshold]
        hits = sum(truth[p] for p in predicted)
        curve.append({"threshold": threshold, "precision": round(hits / len(predicted), 4) if predicted else None,
                      "recall": round(hits / positives, 4) if positives else None})
    return curve


def diagnostics(*, entity_type: EntityType) -> dict:
    """Score distribution of the last run, and precision/recall against the threshold estimated from the labels."""
    from mastering.models import Job, ScoredPair

    last_run = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER, status=Job.Status.DONE).order_by("-finished_at").first()
    bins = [0] * 20
    if last_run is not None:
        rows = (ScoredPair.objects.filter(job=last_run, score__isnull=False).annotate(bin=Floor(F("score") * 20))
                .values("bin").annotate(n=Count("id")).values_list("bin", "n"))
        for position, n in rows:
            bins[min(int(position), 19)] += n
    model = entity_type.active_model
    labels = training_labels(entity_type=entity_type)
    curve = []
    if model is not None and labels:
        curve = label_curve(entity_type=entity_type, model=model, labels=labels, thresholds=[step / 20 for step in range(1, 20)])
    return {"last_run": last_run, "histogram": bins, "pairs": sum(bins), "curve": curve, "labels": len(labels),
            "threshold": match_threshold_for(entity_type=entity_type, model=model), "model": model}


def records_marked_distinct(entity_type: EntityType, record_id: int) -> set[int]:
    """Records some decision says are not the same as this one: the latest adjudication, cluster edit or issue
    resolution on the pair, else a majority of its answers (as resolved_answers decides). Streaming never joins them."""
    labels = (Label.objects.active().filter(pair__entity_type=entity_type)
              .filter(Q(pair__left_id=record_id) | Q(pair__right_id=record_id))
              .exclude(answer=Label.Answer.UNSURE)
              .order_by("created_at", "id").values_list("pair__left_id", "pair__right_id", "answer", "origin"))
    decisive: dict[int, str] = {}
    votes: dict[int, int] = {}
    for left, right, answer, origin in labels:
        other = right if left == record_id else left
        if origin in DECISIVE_ORIGINS:
            decisive[other] = answer  # the latest wins
        else:
            votes[other] = votes.get(other, 0) + (1 if answer == Label.Answer.MATCH else -1)
    apart = {other for other, answer in decisive.items() if answer == Label.Answer.DISTINCT}
    apart |= {other for other, balance in votes.items() if balance < 0 and other not in decisive}
    return apart

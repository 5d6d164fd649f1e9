"""Reads for the queue, labels, agreement and training."""

from datetime import datetime

from django.db.models import Count, F, QuerySet
from django.db.models.functions import Floor
from django.utils import timezone

from curation.models import CandidatePair, Label
from mastering.engine import LabeledPair
from mastering.matchers import matcher_for
from mastering.models import EntityType
from mastering.selectors import match_threshold_for

MIN_LABELS_PER_ANSWER = 3


def queue_pair_ids(*, entity_type: EntityType, curator, now: datetime) -> QuerySet:
    """Ids of pairs the curator could claim, most urgent first."""
    return (
        CandidatePair.objects.claimable_by(curator, now)
        .filter(entity_type=entity_type)
        .order_by("priority", "id")
        .values_list("id", flat=True)
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


def diagnostics(*, entity_type: EntityType) -> dict:
    """Score distribution of the last run, and precision/recall against the threshold estimated from the labels."""
    from mastering.mapping import mapped_records, projection_for
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
        records = mapped_records(projection_for(entity_type), record_ids={rid for label in labels for rid in label.key})
        pairs = [label.key for label in labels if label.key[0] in records and label.key[1] in records]
        truth = {label.key: label.match for label in labels}
        scored = {}
        for chunk in matcher_for(model).score(pairs, records):
            for (a, b), s in zip(chunk["pairs"].tolist(), chunk["score"].tolist()):
                scored[(a, b)] = s
        positives = sum(truth[p] for p in scored)
        for step in range(1, 20):
            threshold = step / 20
            predicted = [p for p, s in scored.items() if s >= threshold]
            hits = sum(truth[p] for p in predicted)
            curve.append({"threshold": threshold, "precision": round(hits / len(predicted), 4) if predicted else None,
                          "recall": round(hits / positives, 4) if positives else None})
    return {"last_run": last_run, "histogram": bins, "pairs": sum(bins), "curve": curve, "labels": len(labels),
            "threshold": match_threshold_for(entity_type=entity_type, model=model), "model": model}

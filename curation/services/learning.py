"""Active learning: keep a learner per entity type, fill the queue from it, train model versions."""

import hashlib
import logging
import random
import threading
import time
from dataclasses import dataclass, field

from django.db import transaction

from curation import selectors
from curation.models import CandidatePair
from lineage.models import Activity
from lineage.services import record_activity
from mastering import engine
from mastering.config_cache import forget_configurations
from mastering.mapping import Projection, mapped_record_queryset, mapped_records, projection_for
from mastering.matchers import forget_matchers, matcher_for
from mastering.models import Attribute, EntityType, Job, MatchModel
from mastering.services import run_lineage
from mastering.services.golden_rules import mark_configuration_changed
from mastering.services.jobs import Progress
from steward.errors import ServiceError

logger = logging.getLogger(__name__)

QUEUE_TARGET = 6


class NotEnoughData(ServiceError):
    pass


def attribute_specs(projection: Projection) -> list[engine.AttributeSpec]:
    return [
        engine.AttributeSpec(a.name, a.comparator, a.has_missing)
        for a in projection.attributes
        if a.comparator != Attribute.Comparator.IGNORE
    ]


@dataclass
class LearnerState:
    learner: engine.ActiveLearner
    signature: str
    marked: dict[tuple[int, int], bool] = field(default_factory=dict)


# Building a learner costs seconds, so each worker process keeps one per entity type. It is a cache:
# a different sample or a changed label simply rebuilds it.
_LEARNERS: dict[int, LearnerState] = {}
_LOCK = threading.Lock()


def _sample(entity_type: EntityType, projection: Projection) -> list[int]:
    ids_by_source: dict[str, list[int]] = {}
    for record_id, source_id in mapped_record_queryset(projection).values_list("pk", "source_id").order_by("pk"):
        ids_by_source.setdefault(str(source_id), []).append(record_id)
    if sum(len(ids) for ids in ids_by_source.values()) < 2:
        raise NotEnoughData(f"{entity_type.name} has fewer than two mapped records; map a source with data first.")
    size = min(entity_type.training_sample_size, engine.MAX_TRAINING_RECORDS)
    return engine.draw_training_sample(ids_by_source, size=size, seed=entity_type.learning_seed)


def _group_of(entity_type: EntityType, projection: Projection, record_ids) -> dict[int, str] | None:
    if not entity_type.one_per_source:
        return None
    rows = mapped_record_queryset(projection).filter(pk__in=list(record_ids)).values_list("pk", "source_id")
    return {pk: str(source_id) for pk, source_id in rows}


def learner_for(entity_type: EntityType, projection: Projection | None = None) -> engine.ActiveLearner:
    """The entity type's learner, marked with every current label."""
    projection = projection or projection_for(entity_type)
    specs = attribute_specs(projection)
    if not specs:
        raise NotEnoughData(f"{entity_type.name} has no compared attributes yet.")
    sample_ids = _sample(entity_type, projection)
    # The signature covers the records' content and the mapping, so any change rebuilds the learner.
    contents = sorted(mapped_record_queryset(projection).filter(pk__in=sample_ids).values_list("pk", "content_hash"))
    feeds = sorted((source_id, repr(feeds)) for source_id, feeds in projection.feeds.items())
    signature = hashlib.sha1(repr((contents, specs, feeds, entity_type.one_per_source)).encode()).hexdigest()
    labels = {label.key: label.match for label in selectors.training_labels(entity_type=entity_type)}
    with _LOCK:
        state = _LEARNERS.get(entity_type.pk)
        stale = state is None or state.signature != signature or any(
            labels.get(pair) != match for pair, match in state.marked.items()
        )
        if stale:
            records = mapped_records(projection, record_ids=sample_ids)
            group_of = _group_of(entity_type, projection, records)
            # The population lets blocking rules be judged by what they would cost on all records, not the sample.
            learner = engine.ActiveLearner(specs, records, seed=entity_type.learning_seed, group_of=group_of,
                                           population=mapped_record_queryset(projection).count())
            state = _LEARNERS[entity_type.pk] = LearnerState(learner, signature)
        new = {pair: match for pair, match in labels.items() if pair not in state.marked}
        if new:
            needed = {rid for pair in new for rid in pair}
            extra = mapped_records(projection, record_ids=needed)
            if entity_type.one_per_source:
                state.learner.group_of.update(_group_of(entity_type, projection, needed) or {})
            state.learner.mark([engine.LabeledPair(a, b, m) for (a, b), m in new.items()], records=extra)
            state.marked.update(new)
        return state.learner


def forget_learner(entity_type_id: int) -> None:
    with _LOCK:
        _LEARNERS.pop(entity_type_id, None)


def refill_queue(*, entity_type: EntityType, progress: Progress | None = None) -> dict:
    """Top the queue up with the pairs the model is least sure of, plus a share of random pairs."""
    projection = projection_for(entity_type)
    if progress:
        progress.begin("building the learner", 0.1)
    learner = learner_for(entity_type, projection)
    open_count = selectors.open_pair_count(entity_type=entity_type)
    wanted = max(0, QUEUE_TARGET - open_count)
    if not wanted:
        return {"added": 0, "open": open_count}
    if progress:
        progress.begin("choosing pairs", 0.6)
    existing = set(CandidatePair.objects.filter(entity_type=entity_type).values_list("left_id", "right_id"))
    draw = random.Random(f"{entity_type.learning_seed}:{len(existing)}")
    n_random = sum(draw.random() < entity_type.random_pair_share for _ in range(wanted))
    uncertain = [pair for pair in learner.uncertain_pairs(wanted - n_random) if pair not in existing]
    chosen = [(pair, CandidatePair.Origin.SIMILAR_TEXT if pair in learner.seeded else CandidatePair.Origin.ACTIVE_LEARNING)
              for pair in uncertain[: wanted - n_random]]
    taken = existing | {pair for pair, _ in chosen}
    chosen += [(pair, CandidatePair.Origin.RANDOM) for pair in _random_pairs(learner, n_random, taken, seed=len(existing))]
    model = entity_type.active_model
    scores = _scores(model, projection, [pair for pair, _ in chosen])
    base = time.time()
    rows = [
        CandidatePair(entity_type=entity_type, left_id=left, right_id=right, origin=origin,
                      score=scores.get((left, right)), model=model, priority=base + index / 1000,
                      answers_needed=entity_type.overlap)
        for index, ((left, right), origin) in enumerate(chosen)
    ]
    created = CandidatePair.objects.bulk_create(rows, ignore_conflicts=True)
    return {"added": len(created), "open": open_count + len(created)}


def _random_pairs(learner: engine.ActiveLearner, n: int, taken: set, *, seed: int) -> list[tuple[int, int]]:
    """Pairs drawn uniformly from the sample (across sources for link tasks), none already asked."""
    rng = random.Random(seed)
    ids = list(learner.sample_ids)
    pairs: list[tuple[int, int]] = []
    for _ in range(n * 20):
        if len(pairs) >= n or len(ids) < 2:
            break
        a, b = rng.sample(ids, 2)
        if learner.group_of is not None and learner.group_of.get(a) == learner.group_of.get(b):
            continue
        pair = engine.ordered(a, b)
        if pair not in taken:
            taken.add(pair)
            pairs.append(pair)
    return pairs


def _scores(model: MatchModel | None, projection: Projection, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], float]:
    if model is None or not pairs:
        return {}
    matcher = matcher_for(model)
    records = mapped_records(projection, record_ids={rid for pair in pairs for rid in pair})
    return {(int(a), int(b)): round(float(s), 4) for chunk in matcher.score(pairs, records)
            for (a, b), s in zip(chunk["pairs"], chunk["score"])}


def forget_cached_models() -> None:
    """Drop every cached learner and matcher (tests; memory pressure)."""
    with _LOCK:
        _LEARNERS.clear()
    forget_matchers()
    forget_configurations()


def train_match_model(*, entity_type: EntityType, job: Job | None = None, progress: Progress | None = None) -> MatchModel:
    """Train a new model version from the current labels, estimate its quality and make it active."""
    labels = selectors.training_labels(entity_type=entity_type)
    counts = selectors.label_counts(entity_type=entity_type)
    if min(counts["match"], counts["distinct"]) < 1:
        raise NotEnoughData(
            f"Training needs at least one 'match' and one 'not a match' answer; there are {counts['match']} and {counts['distinct']}."
        )
    projection = projection_for(entity_type)
    if progress:
        progress.begin("building the learner", 0.05)
    learner = learner_for(entity_type, projection)
    specs = attribute_specs(projection)
    records = mapped_records(projection, record_ids={rid for label in labels for rid in label.key})
    if progress:
        progress.begin("training", 0.3)
    trained = engine.train_model(specs=specs, labels=labels, records=records, seed=entity_type.learning_seed, learner=learner,
                                 group_of=learner.group_of, population=mapped_record_queryset(projection).count())
    quality = trained.quality or {}
    label_ids = sorted(selectors.list_labels(entity_type=entity_type).filter(revoked_at__isnull=True).values_list("pk", flat=True))
    with transaction.atomic():
        version = (MatchModel.objects.filter(entity_type=entity_type).order_by("-version").values_list("version", flat=True).first() or 0) + 1
        MatchModel.objects.filter(entity_type=entity_type, active=True).update(active=False)
        model = MatchModel.objects.create(
            entity_type=entity_type, version=version, learned_settings=trained.settings, predicates=trained.predicates,
            label_ids=label_ids, label_count=counts["labels"], match_count=counts["match"], distinct_count=counts["distinct"],
            precision=quality.get("precision"), recall=quality.get("recall"), f1=quality.get("f1"),
            metrics={**trained.metrics, "quality": quality},
            active=True, job=job,
        )
        mark_configuration_changed(entity_type_id=entity_type.pk)
        record_activity(
            kind=Activity.Kind.TRAIN, actor=job, summary=f"{entity_type.name} model v{version} from {counts['labels']} labels",
            inputs=[entity_type], outputs=[model],
            parameters={"labels": counts["labels"], "precision": quality.get("precision"), "recall": quality.get("recall"),
                        "predicates": len(trained.predicates)},
            run=run_lineage.run_facts(job, counts={"labels": counts["labels"], "predicates": len(trained.predicates)},
                                      model=model),
        )
    return model


def run_train_job(job: Job, progress: Progress) -> dict:
    """Job runner: train, then refill the queue with what the new model is unsure of."""
    model = train_match_model(entity_type=job.entity_type, job=job, progress=progress)
    Job.objects.filter(pk=job.pk).update(model=model)
    progress.begin("refilling the queue", 0.85)
    refill = refill_queue(entity_type=job.entity_type)
    return {"model_version": model.version, "labels": model.label_count, "precision": model.precision,
            "recall": model.recall, "pairs_added": refill["added"]}


def run_prepare_queue_job(job: Job, progress: Progress) -> dict:
    """Job runner: fill the labeling queue."""
    return refill_queue(entity_type=job.entity_type, progress=progress)

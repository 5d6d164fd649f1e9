"""Steward's entity-resolution engine: the only code that imports dedupe (3.0.3).

Plain data in and out, no Django. Records are ``dict[int, dict[str, object]]`` (record id →
attribute → raw value or None; the engine prepares values per comparator itself), pairs are
``(smaller_id, larger_id)`` tuples, learned models are ``bytes``.

Attributes (``variables``)
    ``AttributeSpec(name, comparator, has_missing=True, categories=())`` with ``comparator`` in
    ``COMPARATORS``; ``infer_comparator(values) -> str``; ``prepare_value(spec, raw)``;
    ``to_dedupe_variables(specs)``.

Training (``training``, ``learner``, ``sampling``)
    ``draw_training_sample(record_ids_by_group, *, size=3000, seed) -> list[int]`` — at most
    ``MAX_TRAINING_RECORDS`` ids, every group (source) present.
    ``ActiveLearner(specs, records, *, seed, group_of=None, labels=(), label_records=None)`` — built
    once (a few seconds) and kept in memory per entity type; more than ``MAX_TRAINING_RECORDS``
    records are subsampled. ``.mark(labels, records=None)``, ``.uncertain_pairs(n) -> list[pair]``
    (never a labelled pair, each handed out once), ``.labels``. ``group_of`` (record id → source)
    makes it a link task: only pairs across sources are considered.
    ``train_model(*, specs, labels, records, seed, learner=None, sample=None, group_of=None,
    recall=1.0) -> TrainedModel(settings, predicates, metrics, threshold)`` — never modifies the
    learner, so labelling continues after training. ``estimate_quality(specs, labels, records,
    seed) -> {precision, recall, f1, labels}`` (None values with fewer than 5 labels per answer).

Matching (``scoring``, ``blocking``, ``clustering``)
    ``Matcher.from_settings(settings, num_workers=1)``: ``.predicates() -> list[str]``,
    ``.blocking_keys(records) -> Iterator[BlockKey(predicate, key, record_id)]``,
    ``.score(pairs, records) -> Iterator[structured array ('pairs', 'score')]`` in chunks,
    ``.score_pair(a, b)``, ``.explain(a, b) -> list[AttributeContribution]``, ``.threshold`` (0.5).
    ``candidate_pairs(keys, *, max_block_size=50, group_of=None) -> CandidatePairs`` joins block
    keys in Python, skipping oversized blocks, with a per-predicate report (the app does the same
    join in SQL, see ``blocking``). ``cluster_pairs(scored, *, threshold=0.5, group_of=None) ->
    list[Cluster(record_ids, confidences)]``.

Scores are match probabilities in [0, 1]; a pair matches when its score exceeds the threshold.
Everything random is seeded from the ``seed`` argument, so equal inputs give equal outputs.
"""

from mastering.engine.blocking import (
    DEFAULT_MAX_BLOCK_SIZE,
    BlockKey,
    CandidatePairs,
    PredicateReport,
    candidate_pairs,
)
from mastering.engine.clustering import SCORE_DTYPE, Cluster, cluster_pairs
from mastering.engine.learner import ActiveLearner
from mastering.engine.records import LabeledPair, Pair, RecordId, TrainingError, ordered
from mastering.engine.sampling import MAX_TRAINING_RECORDS, draw_training_sample
from mastering.engine.scoring import AttributeContribution, Matcher
from mastering.engine.training import (
    DEFAULT_RECALL,
    DEFAULT_THRESHOLD,
    QualityEstimate,
    TrainedModel,
    TrainingMetrics,
    estimate_quality,
    train_model,
)
from mastering.engine.variables import (
    COMPARATORS,
    AttributeSpec,
    infer_comparator,
    prepare_value,
    to_dedupe_variables,
)

__all__ = [
    "COMPARATORS",
    "DEFAULT_MAX_BLOCK_SIZE",
    "DEFAULT_RECALL",
    "DEFAULT_THRESHOLD",
    "MAX_TRAINING_RECORDS",
    "SCORE_DTYPE",
    "ActiveLearner",
    "AttributeContribution",
    "AttributeSpec",
    "BlockKey",
    "CandidatePairs",
    "Cluster",
    "LabeledPair",
    "Matcher",
    "Pair",
    "PredicateReport",
    "QualityEstimate",
    "RecordId",
    "TrainedModel",
    "TrainingError",
    "TrainingMetrics",
    "candidate_pairs",
    "cluster_pairs",
    "draw_training_sample",
    "estimate_quality",
    "infer_comparator",
    "ordered",
    "prepare_value",
    "to_dedupe_variables",
    "train_model",
]

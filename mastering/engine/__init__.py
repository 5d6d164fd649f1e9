"""Steward's entity-resolution engine: the only code that imports dedupe (3.0.3).

Plain data in and out, no Django. Records are ``dict[int, dict[str, object]]`` (record id →
attribute → raw value or None; the engine prepares values per comparator itself: case-folded,
accents and extra spaces dropped, prices to float, "lat,lon" to a tuple, dates to YYYYMMDD).
Pairs are ``(smaller_id, larger_id)``; learned models are ``bytes`` that dedupe's StaticDedupe
can load as well. Everything random is seeded from the ``seed`` argument.

Attributes (``variables``)
    ``AttributeSpec(name, comparator, has_missing=True, categories=())``, ``comparator`` one of
    ``COMPARATORS``. ``infer_comparator(values) -> str``, ``prepare_value(spec, raw)``,
    ``to_dedupe_variables(specs, corpus=None)``. "String" compares with edit distance *and* word
    overlap (two dedupe variables), which is what makes names and addresses work.

Learning (``sampling``, ``learner``, ``training``)
    ``draw_training_sample(record_ids_by_group, *, size=3000, seed) -> list[int]``: at most
    ``MAX_TRAINING_RECORDS`` (3,000) ids, proportional per group (source) with a floor per group.
    ``ActiveLearner(specs, records, *, seed, group_of=None, population=None, labels=(),
    label_records=None)``: build once per entity type (1-8 s) and keep it; more records than the
    cap are subsampled. Pass ``population`` = the number of records the model will match: rule
    costs are projected from the sample to that size. ``group_of`` (record id → source) makes it a
    link task (only cross-source pairs). ``.mark(labels, records=None)`` (records needed only for
    ids outside the sample), ``.uncertain_pairs(n) -> list[pair]`` (never a labelled pair; each
    handed out once), ``.labels``, ``.sample_ids``, ``.group_of``.
    ``train_model(*, specs, labels, records, seed, learner=None, sample=None, group_of=None,
    population=None, recall=1.0) -> TrainedModel(settings, predicates, metrics, threshold)``
    (threshold: 0.5, or ``DEFAULT_LINK_THRESHOLD`` 0.25 for link tasks):
    reuses the learner's sample (or builds one from ``sample``) and never modifies the learner,
    so labelling goes on after training. ``TrainedModel.quality`` (``quality``): estimated
    precision, recall and blocking recall of the model's runs, from its probabilities on pairs its
    rules compare in the sample and from held-out matches (None values, with the reason in
    ``basis``, below 5 labels of either answer). ``TrainingError`` when labels cannot make a model.

Matching (``scoring``, ``blocking``, ``clustering``)
    ``Matcher.from_settings(settings, num_workers=1)``: ``.predicates() -> list[str]``,
    ``.prepare(records)``, ``.blocking_keys(records) -> Iterator[BlockKey(predicate, key,
    record_id)]``, ``.score(pairs, records, chunk_size=20000) -> Iterator[structured array
    ('pairs', 'score')]`` (``SCORE_DTYPE``), ``.score_pair(a, b)``, ``.explain(a, b) ->
    list[AttributeContribution(attribute, distance, contribution)]`` (log-odds shares, last entry
    the baseline), ``.threshold`` (the model's suggested bar: 0.5, or 0.25 for link models). ``num_workers > 1`` forks scoring workers: not possible
    inside a Celery prefork child (daemonic), so keep 1 there.
    ``.pair_budget(n_records)``: pairs a run may compare (a multiple of what the rules compared on
    the training sample, projected). ``candidate_pairs(keys, *, pair_budget=None, max_block_size=None,
    group_of=None, predicate_names=()) -> CandidatePairs(pairs, per_predicate)``: the block-key join
    in Python, taking blocks smallest first while the budget lasts (``block_size_cap(blocks_by_size,
    budget)``, never below 50 records), with pairs/new pairs/capped blocks per predicate
    (``blocking`` shows the SQL). ``.neighbour_pairs(records, group_of=None)``: each record's 5
    nearest neighbours by TF-IDF on character n-grams of its Text attributes (up to
    ``MAX_NEIGHBOUR_RECORDS``), which runs compare besides the blocking rules.
    ``cluster_pairs(scored, *, threshold=0.5, group_of=None, min_score=None) ->
    list[Cluster(record_ids, confidences)]``: dedupe's hierarchical clustering, or with
    ``group_of`` at most one record per source per cluster (greedy by score).

Scores are match probabilities in [0, 1]; a pair matches when its score exceeds the threshold.
"""

from mastering.engine.blocking import (
    DEFAULT_MAX_BLOCK_SIZE,
    BlockKey,
    CandidatePairs,
    PredicateReport,
    block_size_cap,
    candidate_pairs,
)
from mastering.engine.clustering import SCORE_DTYPE, Cluster, cluster_pairs
from mastering.engine.learner import ActiveLearner
from mastering.engine.records import LabeledPair, Pair, RecordId, TrainingError, ordered
from mastering.engine.sampling import MAX_TRAINING_RECORDS, draw_training_sample
from mastering.engine.scoring import AttributeContribution, Matcher
from mastering.engine.similarity import MAX_NEIGHBOUR_RECORDS, RUN_NEIGHBOURS
from mastering.engine.training import (
    DEFAULT_LINK_THRESHOLD,
    DEFAULT_RECALL,
    DEFAULT_THRESHOLD,
    TrainedModel,
    TrainingMetrics,
    train_model,
)
from mastering.engine.quality import QualityEstimate
from mastering.engine.variables import (
    COMPARATORS,
    AttributeSpec,
    infer_comparator,
    prepare_value,
    to_dedupe_variables,
)

__all__ = [
    "COMPARATORS",
    "DEFAULT_LINK_THRESHOLD",
    "DEFAULT_MAX_BLOCK_SIZE",
    "DEFAULT_RECALL",
    "DEFAULT_THRESHOLD",
    "MAX_NEIGHBOUR_RECORDS",
    "MAX_TRAINING_RECORDS",
    "RUN_NEIGHBOURS",
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
    "block_size_cap",
    "candidate_pairs",
    "cluster_pairs",
    "draw_training_sample",
    "infer_comparator",
    "ordered",
    "prepare_value",
    "to_dedupe_variables",
    "train_model",
]

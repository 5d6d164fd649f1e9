"""Clusters from scored pairs: dedupe's hierarchical clustering, or one-record-per-source linking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Union

import dedupe.clustering
import numpy
import numpy.typing

from mastering.engine.records import RecordId

# Scores are match probabilities in [0, 1]; a pair is a match when its score exceeds the threshold.
SCORE_DTYPE = numpy.dtype([("pairs", numpy.int64, 2), ("score", numpy.float32)])
ScoredInput = Union[numpy.typing.NDArray[Any], Iterable[numpy.typing.NDArray[Any]], Iterable[tuple[RecordId, RecordId, float]]]


@dataclass(frozen=True)
class Cluster:
    """Records judged to be one entity, with each record's confidence of belonging (same order)."""

    record_ids: tuple[RecordId, ...]
    confidences: tuple[float, ...]


def cluster_pairs(
    scored: ScoredInput,
    *,
    threshold: float = 0.5,
    group_of: Mapping[RecordId, str] | None = None,
) -> list[Cluster]:
    """Group scored pairs into clusters of two or more records; with `group_of`, at most one record per group.

    Without `group_of`: connected components of the scored pairs, then dedupe's centroid-linkage
    hierarchical clustering cut at `threshold`. With it (link tasks): greedy merging by descending
    score, refusing any merge that would put two records of one group (source) together, which is
    dedupe's one-to-one matching generalised to more than two sources. Records in no cluster are
    singletons and are not returned. The output is sorted and does not depend on input order.
    """
    scores = _normalise(as_score_array(scored))
    if group_of is None:
        clusters = _hierarchical(scores, threshold)
    else:
        clusters = _one_per_group(scores, threshold, group_of)
    return sorted(clusters, key=lambda c: c.record_ids)


def as_score_array(scored: ScoredInput) -> numpy.typing.NDArray[Any]:
    """Collect scored pairs (structured arrays or (a, b, score) tuples) into one structured array."""
    if isinstance(scored, numpy.ndarray):
        return scored.astype(SCORE_DTYPE, copy=False)
    arrays, rows = [], []
    for item in scored:
        if isinstance(item, numpy.ndarray):
            arrays.append(item.astype(SCORE_DTYPE, copy=False))
        else:
            rows.append(((int(item[0]), int(item[1])), float(item[2])))
    if rows:
        arrays.append(numpy.array(rows, dtype=SCORE_DTYPE))
    return numpy.concatenate(arrays) if arrays else numpy.empty(0, dtype=SCORE_DTYPE)


def _normalise(scores: numpy.typing.NDArray[Any]) -> numpy.typing.NDArray[Any]:
    pairs = numpy.sort(scores["pairs"], axis=1)
    keep = pairs[:, 0] != pairs[:, 1]
    out = numpy.empty(int(keep.sum()), dtype=SCORE_DTYPE)
    out["pairs"], out["score"] = pairs[keep], scores["score"][keep]
    # Sorting by (a, b, -score) and keeping the first of each pair makes the result order-independent
    # and keeps the best score when a pair was scored twice.
    order = numpy.lexsort((-out["score"], out["pairs"][:, 1], out["pairs"][:, 0]))
    out = out[order]
    if len(out):
        first = numpy.ones(len(out), dtype=bool)
        first[1:] = numpy.any(out["pairs"][1:] != out["pairs"][:-1], axis=1)
        out = out[first]
    return out


def _hierarchical(scores: numpy.typing.NDArray[Any], threshold: float) -> list[Cluster]:
    if not len(scores):
        return []
    clusters = []
    for ids, confidences in dedupe.clustering.cluster(scores, threshold):
        order = numpy.argsort(ids)
        clusters.append(
            Cluster(
                record_ids=tuple(int(ids[i]) for i in order),
                confidences=tuple(round(float(confidences[i]), 4) for i in order),
            )
        )
    return clusters


def _one_per_group(
    scores: numpy.typing.NDArray[Any], threshold: float, group_of: Mapping[RecordId, str]
) -> list[Cluster]:
    strong = scores[scores["score"] > threshold]
    strong = strong[numpy.argsort(-strong["score"], kind="stable")]
    parent: dict[RecordId, RecordId] = {}
    groups: dict[RecordId, set[str]] = {}

    def find(rid: RecordId) -> RecordId:
        if rid not in parent:
            parent[rid], groups[rid] = rid, {group_of[rid]}
        root = rid
        while parent[root] != root:
            root = parent[root]
        while parent[rid] != root:
            parent[rid], rid = root, parent[rid]
        return root

    for (a, b), _score in strong:
        root_a, root_b = find(int(a)), find(int(b))
        if root_a == root_b or groups[root_a] & groups[root_b]:
            continue
        parent[root_b] = root_a
        groups[root_a] |= groups.pop(root_b)

    members: dict[RecordId, list[RecordId]] = {}
    for rid in parent:
        members.setdefault(find(rid), []).append(rid)
    best: dict[RecordId, float] = {}
    for (a, b), score in strong:
        a, b = int(a), int(b)
        if find(a) == find(b):
            # A record's confidence is its strongest link to another member of its cluster.
            best[a], best[b] = max(best.get(a, 0.0), float(score)), max(best.get(b, 0.0), float(score))
    clusters = []
    for ids in members.values():
        if len(ids) > 1:
            ids.sort()
            clusters.append(Cluster(tuple(ids), tuple(round(best[r], 4) for r in ids)))
    return clusters

"""Clusters from scored pairs: dedupe's hierarchical clustering, or one-record-per-source linking."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Union

import dedupe.clustering
import numpy
import numpy.typing
import scipy.cluster.hierarchy
import scipy.sparse
import scipy.sparse.csgraph

from mastering.engine.records import RecordId

# Scores are match probabilities in [0, 1]; a pair is a match when its score exceeds the threshold.
SCORE_DTYPE = numpy.dtype([("pairs", numpy.int64, 2), ("score", numpy.float32)])
# Components above this many records are split by raising their score bar (dedupe uses 30,000,
# whose distance matrix alone takes 1.8 GB).
MAX_COMPONENT = 5000
# Pairs below this share of the threshold are left out of clustering.
LOW_SCORE_SHARE = 0.5
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
    min_score: float | None = None,
) -> list[Cluster]:
    """Group scored pairs into clusters of two or more records; with `group_of`, at most one record per group.

    Without `group_of`: connected components of the scored pairs, then dedupe's centroid-linkage
    hierarchical clustering cut at `threshold`. With it (link tasks): greedy merging by descending
    score, refusing any merge that would put two records of one group (source) together, which is
    dedupe's one-to-one matching generalised to more than two sources. Pairs scoring at most
    `min_score` (default: half the threshold) are ignored. Records in no cluster are
    singletons and are not returned. The output is sorted and does not depend on input order.
    """
    scores = _normalise(as_score_array(scored))
    floor = threshold * LOW_SCORE_SHARE if min_score is None else min_score
    # Pairs far below the threshold cannot join records but chain everything into one giant
    # connected component, which dedupe then clusters in O(n²) memory (measured: 97,000 records).
    scores = scores[scores["score"] > floor]
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
    # dedupe's clustering (connected components, then centroid linkage cut at 1 - threshold, then
    # dedupe's confidences), driven here with a C-speed component search and a direct cut of the
    # linkage tree: scipy's fcluster validates its input on every call, which cost 2.6 s for the
    # 13,000 small components of 100,000 people.
    clusters: list[Cluster] = []
    for component in _components(scores):
        if len(component) == 1:
            ((a, b),), (score,) = component["pairs"], component["score"]
            if score > threshold:
                clusters.append(Cluster((int(a), int(b)), (round(float(score), 4),) * 2))
            continue
        i_to_id, condensed, n = dedupe.clustering.condensedDistance(component)
        linkage = scipy.cluster.hierarchy.linkage(condensed, method="centroid")
        squared = condensed**2
        for members in _cut(linkage, n, 1 - threshold):
            if len(members) > 1:
                members.sort()  # dedupe's confidences come back in member-index order
                confidences = dedupe.clustering.confidences(members, squared, n)
                ids = [int(i_to_id[i]) for i in members]
                order = numpy.argsort(ids)
                clusters.append(
                    Cluster(tuple(ids[i] for i in order), tuple(round(float(confidences[i]), 4) for i in order))
                )
    return clusters


def _components(scores: numpy.typing.NDArray[Any]) -> Iterator[numpy.typing.NDArray[Any]]:
    """Split scored pairs into connected components; split oversized ones by dropping weak edges."""
    if not len(scores):
        return
    ids, inverse = numpy.unique(scores["pairs"], return_inverse=True)
    edges = inverse.reshape(-1, 2)
    graph = scipy.sparse.coo_matrix((numpy.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(ids), len(ids)))
    _, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    edge_labels = labels[edges[:, 0]]
    order = numpy.argsort(edge_labels, kind="stable")
    bounds = numpy.flatnonzero(numpy.diff(edge_labels[order])) + 1
    for edge_index in numpy.split(order, bounds):
        component = scores[edge_index]
        if len(component) > 1 and len(numpy.unique(component["pairs"])) > MAX_COMPONENT:
            # As dedupe does: raise the bar inside the component until it falls apart.
            floor = float(component["score"].min())
            raised = 1 / (1 + numpy.exp(-(numpy.log(floor) - numpy.log1p(-floor) + 1))) if 0 < floor < 1 else 1.0
            yield from _components(component[component["score"] > raised])
        else:
            yield component


def _cut(linkage: numpy.typing.NDArray[Any], n: int, distance: float) -> list[list[int]]:
    """Flat clusters of a linkage tree whose cophenetic distance is at most `distance` (fcluster's rule)."""
    groups: dict[int, list[int]] = {i: [i] for i in range(n)}
    highest = numpy.empty(len(linkage))
    for step, (left, right, height, _) in enumerate(linkage):
        left, right = int(left), int(right)
        # Centroid linkage can merge below an earlier height, so a node's height is its subtree's maximum.
        highest[step] = max(height, highest[left - n] if left >= n else 0.0, highest[right - n] if right >= n else 0.0)
        if highest[step] <= distance:
            groups[n + step] = groups.pop(left) + groups.pop(right)
    return list(groups.values())


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

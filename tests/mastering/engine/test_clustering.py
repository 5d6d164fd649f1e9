import random

import dedupe.clustering
import numpy

from mastering.engine import SCORE_DTYPE, Cluster, cluster_pairs

SCORED = [
    (1, 2, 0.95), (2, 3, 0.90), (1, 3, 0.85),  # a tight trio
    (3, 4, 0.55),                              # a weak link from the trio to 4
    (10, 11, 0.97),                            # a pair
    (20, 21, 0.30),                            # below the threshold
]


def test_hierarchical_clustering_groups_by_threshold():
    clusters = cluster_pairs(SCORED, threshold=0.5)
    # 4 links to 3 only: its distance to the trio's centroid is far above 0.5.
    assert [c.record_ids for c in clusters] == [(1, 2, 3), (10, 11)]
    assert [c.record_ids for c in cluster_pairs(SCORED, threshold=0.92)] == [(1, 2), (10, 11)]
    assert [c.record_ids for c in cluster_pairs(SCORED, threshold=0.2)] == [(1, 2, 3), (10, 11), (20, 21)]
    assert all(len(c.confidences) == len(c.record_ids) for c in clusters)
    assert all(0 <= x <= 1 for c in clusters for x in c.confidences)


def test_clusters_do_not_depend_on_input_order_or_pair_orientation():
    shuffled = [(b, a, s) for a, b, s in SCORED]
    random.Random(1).shuffle(shuffled)
    assert cluster_pairs(shuffled, threshold=0.5) == cluster_pairs(SCORED, threshold=0.5)


def test_structured_arrays_and_chunks_are_accepted():
    array = numpy.array([((a, b), s) for a, b, s in SCORED], dtype=SCORE_DTYPE)
    expected = cluster_pairs(SCORED, threshold=0.5)
    assert cluster_pairs(array, threshold=0.5) == expected
    assert cluster_pairs([array[:3], array[3:]], threshold=0.5) == expected


def test_a_pair_scored_twice_keeps_its_best_score():
    assert cluster_pairs([(1, 2, 0.2), (2, 1, 0.9)], threshold=0.5) == [Cluster((1, 2), (0.9, 0.9))]


def test_empty_input_gives_no_clusters():
    assert cluster_pairs([], threshold=0.5) == []
    assert cluster_pairs([(1, 2, 0.1)], threshold=0.5) == []


def test_same_clusters_and_confidences_as_dedupe():
    rng = numpy.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(3, 12))
        edges = [(a, b) for a in range(n) for b in range(a + 1, n) if rng.random() < 0.5]
        if not edges:
            continue
        array = numpy.array([((a, b), rng.random()) for a, b in edges], dtype=SCORE_DTYPE)
        ours = {c.record_ids: c.confidences for c in cluster_pairs(array, threshold=0.5, min_score=0)}
        theirs = {}
        for ids, confidence in dedupe.clustering.cluster(array.copy(), 0.5):
            order = numpy.argsort(ids)
            theirs[tuple(int(ids[i]) for i in order)] = tuple(round(float(confidence[i]), 4) for i in order)
        assert ours == theirs


def test_one_record_per_group_links_greedily_by_score():
    group_of = {1: "crm", 2: "erp", 3: "erp", 4: "web", 5: "crm"}
    scored = [(1, 2, 0.9), (1, 3, 0.8), (2, 4, 0.7), (3, 5, 0.6), (2, 3, 0.95)]
    clusters = cluster_pairs(scored, threshold=0.5, group_of=group_of)
    assert [c.record_ids for c in clusters] == [(1, 2, 4), (3, 5)]
    for cluster in clusters:
        groups = [group_of[r] for r in cluster.record_ids]
        assert len(groups) == len(set(groups))
    assert clusters[0].confidences == (0.9, 0.9, 0.7)


def test_two_sources_reduce_to_one_to_one_matching():
    group_of = {1: "l", 2: "l", 11: "r", 12: "r"}
    scored = [(1, 11, 0.9), (2, 11, 0.8), (2, 12, 0.6), (1, 12, 0.7)]
    clusters = cluster_pairs(scored, threshold=0.5, group_of=group_of)
    assert [c.record_ids for c in clusters] == [(1, 11), (2, 12)]

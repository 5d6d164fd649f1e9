"""Persistent ids: inherit, merge with redirect, split keeps the larger part, unchanged re-run."""

from itertools import count

from mastering.resolution.identity import assign_ids


def ids():
    numbers = count(1)
    return lambda: f"new-{next(numbers)}"


def test_unchanged_clusters_keep_their_ids():
    previous = {1: "A", 2: "A", 3: "B"}
    result = assign_ids([frozenset({1, 2}), frozenset({3})], previous, fresh_id=ids())
    assert result.ids == ["A", "B"]
    assert result.kinds == {0: "unchanged", 1: "unchanged"}
    assert result.retired == {} and result.new == set()


def test_a_grown_cluster_inherits_and_new_ones_get_fresh_ids():
    previous = {1: "A", 2: "A"}
    result = assign_ids([frozenset({1, 2, 3}), frozenset({4, 5})], previous, fresh_id=ids())
    assert result.ids == ["A", "new-1"]
    assert result.kinds == {0: "grown", 1: "new"}


def test_merge_keeps_the_id_that_brought_most_records_and_redirects_the_other():
    previous = {1: "A", 2: "A", 3: "A", 4: "B"}
    result = assign_ids([frozenset({1, 2, 3, 4})], previous, fresh_id=ids())
    assert result.ids == ["A"]
    assert result.retired == {"B": "A"}
    assert result.kinds == {0: "merged"}
    assert result.counts()["retired"] == 1 and result.counts()["merged"] == 1


def test_merge_of_equal_parts_keeps_the_older_id():
    previous = {1: "A", 2: "B"}
    result = assign_ids([frozenset({1, 2})], previous, seniority={"A": (2,), "B": (1,)}, fresh_id=ids())
    assert result.ids == ["B"] and result.retired == {"A": "B"}


def test_split_keeps_the_id_on_the_larger_part():
    previous = {1: "A", 2: "A", 3: "A", 4: "A", 5: "A"}
    result = assign_ids([frozenset({1, 2}), frozenset({3, 4, 5})], previous, fresh_id=ids())
    assert result.ids == ["new-1", "A"]
    assert result.kinds == {0: "new", 1: "split"}


def test_ties_are_broken_deterministically_whatever_the_input_order():
    previous = {1: "A", 2: "A"}
    first = assign_ids([frozenset({1}), frozenset({2})], previous, fresh_id=ids())
    second = assign_ids([frozenset({2}), frozenset({1})], previous, fresh_id=ids())
    assert first.ids[0] == "A" and second.ids[1] == "A"  # the cluster with the smallest record wins


def test_forced_ids_win_over_overlap():
    previous = {1: "A", 2: "A", 3: "B"}
    result = assign_ids([frozenset({1, 2}), frozenset({3})], previous, forced={1: "A"}, fresh_id=ids())
    assert result.ids == ["new-1", "A"]


def test_an_entity_whose_records_are_all_gone_retires_without_a_survivor():
    result = assign_ids([frozenset({1})], {1: "A", 9: "B"}, fresh_id=ids())
    assert result.retired == {"B": None}

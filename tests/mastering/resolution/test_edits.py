"""Curator edits reshape model clusters."""

from mastering.resolution.edits import Edit, apply_edits


def as_sets(result):
    return sorted(sorted(c) for c in result.clusters)


def test_split_takes_records_out_into_their_own_entity():
    result = apply_edits([{1, 2, 3}], [Edit("split", None, frozenset({3}))], live={1, 2, 3})
    assert as_sets(result) == [[1, 2], [3]]
    assert result.edited_records == {3: None}


def test_merge_brings_both_entities_together_and_keeps_the_survivor_id():
    result = apply_edits([{1, 2}, {3}], [Edit("merge", "A", frozenset({1, 3}))], live={1, 2, 3})
    assert as_sets(result) == [[1, 2, 3]]
    assert result.forced_ids == {0: "A"}


def test_move_puts_a_record_with_its_target():
    result = apply_edits([{1, 2}, {3, 4}], [Edit("move", "B", frozenset({2}), anchor=frozenset({3, 4}))], live={1, 2, 3, 4})
    assert as_sets(result) == [[1], [2, 3, 4]]


def test_pin_fixes_members_whatever_the_model_says():
    model = [{1, 2, 5}, {3}]
    result = apply_edits(model, [Edit("pin", "A", frozenset({1, 2, 3}))], live={1, 2, 3, 5})
    assert as_sets(result) == [[1, 2, 3], [5]]
    assert result.pinned == {0} and result.forced_ids == {0: "A"}


def test_unpin_releases_a_pin():
    edits = [Edit("pin", "A", frozenset({1, 2})), Edit("unpin", "A", frozenset())]
    result = apply_edits([{1}, {2}], edits, live={1, 2})
    assert as_sets(result) == [[1], [2]] and result.pinned == set()


def test_edits_ignore_records_that_are_gone():
    result = apply_edits([{1, 2}], [Edit("split", None, frozenset({9}))], live={1, 2})
    assert as_sets(result) == [[1, 2]]

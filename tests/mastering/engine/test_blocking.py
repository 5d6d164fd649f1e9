import pytest

from mastering.engine import BlockKey, block_size_cap, candidate_pairs


def _keys(blocks: dict[tuple[int, str], list[int]]) -> list[BlockKey]:
    return [BlockKey(p, k, rid) for (p, k), ids in blocks.items() for rid in ids]


def test_pairs_are_distinct_sorted_and_counted_per_predicate():
    keys = _keys({(0, "smith"): [3, 1, 2], (1, "1985"): [1, 2], (1, "1990"): [7]})
    result = candidate_pairs(keys, predicate_names=["surname", "year"])
    assert result.pairs.tolist() == [[1, 2], [1, 3], [2, 3]]
    first, second = result.per_predicate
    assert (first.name, first.pairs, first.new_pairs, first.blocks) == ("surname", 3, 3, 1)
    assert (second.name, second.pairs, second.new_pairs, second.blocks) == ("year", 1, 0, 2)


def test_blocks_over_the_cap_are_skipped_and_reported():
    keys = _keys({(0, "nsw"): list(range(10)), (0, "tas"): [20, 21], (1, "x"): [1, 2]})
    result = candidate_pairs(keys, max_block_size=5)
    assert result.pairs.tolist() == [[1, 2], [20, 21]]
    report = result.per_predicate[0]
    assert (report.capped_blocks, report.capped_records, report.pairs) == (1, 10, 1)


def test_link_tasks_pair_only_across_groups():
    keys = _keys({(0, "k"): [1, 2, 3, 4]})
    result = candidate_pairs(keys, group_of={1: "crm", 2: "crm", 3: "erp", 4: "erp"})
    assert result.pairs.tolist() == [[1, 3], [1, 4], [2, 3], [2, 4]]


def test_ids_outside_the_packable_range_are_refused():
    with pytest.raises(ValueError, match="2\\*\\*31"):
        candidate_pairs(_keys({(0, "k"): [1, 2**31]}))


def test_no_keys_no_pairs():
    result = candidate_pairs([])
    assert len(result) == 0 and result.per_predicate == []


def test_blocks_over_fifty_are_compared_while_the_pair_budget_lasts():
    # A cluster of 120 records is one block of 7,140 pairs: compared when the budget allows it.
    keys = _keys({(0, "big"): list(range(120)), (0, "small"): [500, 501]})
    assert len(candidate_pairs(keys)) == 1  # no budget (models trained before budgets): blocks over 50 skipped
    assert len(candidate_pairs(keys, pair_budget=10_000)) == 7_141
    assert len(candidate_pairs(keys, pair_budget=5_000)) == 1


def test_block_size_cap_takes_the_smallest_blocks_first_and_never_goes_below_fifty():
    assert block_size_cap({2: 1000, 60: 3, 300: 2}, None) == 50
    assert block_size_cap({2: 1000, 60: 3, 300: 2}, 10_000) == 60  # 1,000 + 3 × 1,770 pairs fit; 300s do not
    assert block_size_cap({2: 1000, 60: 3, 300: 2}, 100_000) == 300
    assert block_size_cap({2: 10**6}, 10) == 50

from mastering.engine import MAX_TRAINING_RECORDS, draw_training_sample


def test_small_input_is_returned_whole_and_sorted():
    assert draw_training_sample({"a": [5, 3], "b": [9, 1]}, size=10, seed=1) == [1, 3, 5, 9]


def test_sample_is_bounded_covers_every_group_and_keeps_proportions():
    groups = {"big": list(range(0, 9000)), "mid": list(range(10_000, 11_000)), "tiny": [20_000, 20_001, 20_002]}
    sample = draw_training_sample(groups, size=1000, seed=3)
    assert len(sample) == 1000 == len(set(sample))
    counts = {name: sum(1 for rid in sample if rid in set(ids)) for name, ids in groups.items()}
    assert counts["tiny"] == 3
    assert counts["big"] > 5 * counts["mid"] > 0


def test_floor_keeps_a_small_group_visible():
    groups = {"big": list(range(100_000)), "small": list(range(200_000, 200_400))}
    sample = draw_training_sample(groups, size=1000, seed=3)
    # Purely proportional would give the small group 4 records; the floor gives it 125.
    assert sum(1 for rid in sample if rid >= 200_000) >= 100


def test_size_never_exceeds_the_hard_cap():
    sample = draw_training_sample({"a": list(range(50_000))}, size=10 * MAX_TRAINING_RECORDS, seed=1)
    assert len(sample) == MAX_TRAINING_RECORDS


def test_more_groups_than_budget_takes_one_from_as_many_groups_as_fit():
    groups = {f"g{i}": [i * 10, i * 10 + 1] for i in range(8)}
    sample = draw_training_sample(groups, size=5, seed=2)
    assert len(sample) == 5
    assert len({rid // 10 for rid in sample}) == 5


def test_same_seed_same_sample_other_seed_other_sample():
    groups = {"a": list(range(5000)), "b": list(range(10_000, 12_000))}
    assert draw_training_sample(groups, size=300, seed=4) == draw_training_sample(groups, size=300, seed=4)
    assert draw_training_sample(groups, size=300, seed=4) != draw_training_sample(groups, size=300, seed=5)

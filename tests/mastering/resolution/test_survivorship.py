"""Survivorship rules and their deterministic tie-breaks."""

import pytest

from mastering.resolution.survivorship import Candidate, choose, golden_record


def c(record, value, **kwargs):
    return Candidate(record=record, value=value, **kwargs)


def test_most_frequent_prefers_the_common_value_then_the_most_recent_then_the_smallest_record():
    assert choose("most_frequent", [c(1, "x"), c(2, "y"), c(3, "y")]).record == 2
    assert choose("most_frequent", [c(1, "x", updated_at=5), c(2, "y", updated_at=9)]).value == "y"
    assert choose("most_frequent", [c(7, "x", updated_at=5), c(3, "y", updated_at=5)]).record == 3


def test_most_recent_and_first_non_empty():
    candidates = [c(1, "old", updated_at=1, created_at=1), c(2, "new", updated_at=9, created_at=2), c(3, None, updated_at=99)]
    assert choose("most_recent", candidates).value == "new"
    assert choose("first_non_empty", candidates).value == "old"


def test_longest_breaks_ties_by_frequency_then_record():
    assert choose("longest", [c(1, "ab"), c(2, "abc"), c(3, "xyz"), c(4, "xyz")]).value == "xyz"
    assert choose("longest", [c(5, "abc"), c(2, "xyz")]).record == 2


def test_source_priority_then_recency():
    candidates = [c(1, "crm", priority=30, updated_at=1), c(2, "web", priority=10, updated_at=9), c(3, "crm2", priority=30, updated_at=5)]
    assert choose("source_priority", candidates).value == "crm2"


@pytest.mark.parametrize(("rule", "expected"), [("min", "9"), ("max", "100")])
def test_min_and_max_compare_numbers_as_numbers(rule, expected):
    assert choose(rule, [c(1, "9"), c(2, "100"), c(3, "10")]).value == expected


def test_min_and_max_compare_text_case_insensitively():
    assert choose("min", [c(1, "banana"), c(2, "Apple")]).value == "Apple"
    assert choose("max", [c(1, "banana"), c(2, "Apple"), c(3, "banana")]).record == 1


def test_empty_values_never_survive():
    assert choose("most_frequent", [c(1, None), c(2, ""), c(3, "")]) is None


def test_golden_record_records_rule_and_origin_and_honours_overrides():
    golden, provenance = golden_record(
        {"name": "most_frequent", "city": "most_recent"},
        {"name": [c(1, "Ada", version=3, source="crm", key="C1"), c(2, "Ada", version=1)], "city": [c(1, None)]},
        overrides={"city": {"value": "London", "id": 7, "by": "carol", "reason": "moved"}},
    )
    assert golden == {"name": "Ada", "city": "London"}
    assert provenance["name"] == {"rule": "most_frequent", "record": 1, "version": 3, "source": "crm", "key": "C1"}
    assert provenance["city"]["rule"] == "override" and provenance["city"]["by"] == "carol"

"""Why a survivorship rule chose one value over each other, in words (no database)."""

from mastering.resolution.explain import explain_choice
from mastering.resolution.survivorship import Candidate
from steward.readable import text, words


def c(record, value, **facts) -> Candidate:
    return Candidate(record=record, value=value, **facts)


def test_most_frequent_says_how_many_members_hold_each_value():
    winner, beaten = explain_choice("most_frequent", [c(1, "oslo"), c(2, "oslo"), c(3, "bergen"), c(4, None)])
    assert winner.record == 1
    assert {b.candidate.record: b.why for b in beaten} == {
        2: "has the same value (another record supplies it)",
        3: "held by 1 member(s), the chosen value by 2",
        4: "has no value",
    }


def test_source_priority_names_both_sources_and_priorities():
    winner, beaten = explain_choice("source_priority", [c(1, "a", source="crm", priority=1), c(2, "b", source="web", priority=5)])
    assert winner.record == 2
    assert beaten[0].why == "source crm has priority 1, web has 5"


def test_a_full_tie_says_the_record_id_decided():
    winner, beaten = explain_choice("most_frequent", [c(7, "x"), c(3, "y")])
    assert winner.record == 3
    assert beaten[0].why == "a full tie, broken by record id: the chosen record is the older one (lower id)"


def test_longest_and_smallest_say_why_in_their_terms():
    _, beaten = explain_choice("longest", [c(1, "ab"), c(2, "abcd")])
    assert beaten[0].why == "2 characters, the chosen value 4"
    _, beaten = explain_choice("min", [c(1, "10"), c(2, "9")])
    assert beaten[0].why == "larger than the chosen value"


def test_no_values_means_no_winner():
    winner, beaten = explain_choice("most_recent", [c(1, None), c(2, "")])
    assert winner is None and [b.why for b in beaten] == ["has no value", "has no value"]


def test_readable_text_never_shows_a_python_repr():
    assert text({"rules": {"city": "most_frequent"}, "on": True, "n": None}) == "Rules: City: most_frequent; On: yes; N: —"
    assert text(["a", 1.5, 1234567]) == "a, 1.5, 1,234,567"
    assert words("model_version") == "Model version" and words("per_predicate") == "Pairs per blocking rule"

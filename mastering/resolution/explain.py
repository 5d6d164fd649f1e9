"""Why a survivorship rule chose one candidate over each of the others, in words (pure: no Django)."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from mastering.resolution.survivorship import Candidate, _comparable, choose

RULE_WORDS = {
    "most_frequent": "the value most members share (ties: the most recently updated record, then the oldest id)",
    "most_recent": "the value of the most recently updated record",
    "longest": "the longest value (ties: the more frequent one)",
    "source_priority": "the value from the source with the highest priority (ties: the most recently updated record)",
    "min": "the smallest value",
    "max": "the largest value",
    "first_non_empty": "the value of the oldest record that has one",
    "override": "a curator's override, which wins over every rule",
}


@dataclass(frozen=True)
class Beaten:
    """A candidate that lost, and why."""

    candidate: Candidate
    why: str


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _tie_break(candidate: Candidate, winner: Candidate, rule: str) -> str:
    if rule in ("most_frequent", "source_priority", "most_recent") and candidate.updated_at != winner.updated_at:
        return (f"a tie on the rule, broken by recency: updated {_when(candidate.updated_at)}, "
                f"the chosen one {_when(winner.updated_at)}")
    return "a full tie, broken by record id: the chosen record is the older one (lower id)"


def why_beaten(rule: str, candidate: Candidate, winner: Candidate, candidates: Sequence[Candidate]) -> str:
    """One candidate's defeat under the rule, in words."""
    if candidate.value in (None, ""):
        return "has no value"
    if candidate.value == winner.value:
        return "has the same value (another record supplies it)"
    filled = [c for c in candidates if c.value not in (None, "")]
    counts = Counter(c.value for c in filled)
    if rule == "most_frequent":
        if counts[candidate.value] != counts[winner.value]:
            return f"held by {counts[candidate.value]} member(s), the chosen value by {counts[winner.value]}"
    elif rule == "most_recent":
        if candidate.updated_at != winner.updated_at:
            return f"updated {_when(candidate.updated_at)}, earlier than the chosen record ({_when(winner.updated_at)})"
    elif rule == "longest":
        a, b = len(candidate.value or ""), len(winner.value or "")
        if a != b:
            return f"{a} characters, the chosen value {b}"
        if counts[candidate.value] != counts[winner.value]:
            return f"as long, but held by {counts[candidate.value]} member(s), the chosen value by {counts[winner.value]}"
    elif rule == "source_priority":
        if candidate.priority != winner.priority:
            return f"source {candidate.source} has priority {candidate.priority}, {winner.source} has {winner.priority}"
    elif rule in ("min", "max"):
        value_of = _comparable(filled)
        if value_of(candidate) != value_of(winner):
            return "larger than the chosen value" if rule == "min" else "smaller than the chosen value"
    elif rule == "first_non_empty":
        if candidate.created_at != winner.created_at:
            return f"record first seen {_when(candidate.created_at)}, after the chosen one ({_when(winner.created_at)})"
    return _tie_break(candidate, winner, rule)


def explain_choice(rule: str, candidates: Sequence[Candidate]) -> tuple[Candidate | None, list[Beaten]]:
    """(the candidate the rule chooses, every other candidate with why it lost)."""
    winner = choose(rule, candidates)
    if winner is None:
        return None, [Beaten(c, "has no value") for c in candidates]
    return winner, [Beaten(c, why_beaten(rule, c, winner, candidates)) for c in candidates if c.record != winner.record]

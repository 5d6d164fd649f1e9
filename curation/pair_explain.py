"""What a labeling card says in words: character-level differences, why the pair was asked, and the score explained.

Pure functions over plain values (no queries), so the card, the disputes page and their tests share them.
"""

import difflib
import math
from dataclasses import dataclass

from mastering.dates import looks_like_date_attribute, parse_date

# Segment kinds: the same on both sides, changed, only on this side (the other side has nothing there).
SAME, CHANGED, ONLY_HERE = "same", "changed", "only"


@dataclass(frozen=True)
class Segment:
    text: str
    kind: str


def char_diff(left: str, right: str) -> tuple[list[Segment], list[Segment]]:
    """Both values cut into segments that are the same, changed, or present on one side only (difflib opcodes)."""
    left_parts: list[Segment] = []
    right_parts: list[Segment] = []
    # autojunk would treat frequent characters of long values as noise and hide real differences.
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes():
        if tag == "equal":
            left_parts.append(Segment(left[i1:i2], SAME))
            right_parts.append(Segment(right[j1:j2], SAME))
        elif tag == "replace":
            left_parts.append(Segment(left[i1:i2], CHANGED))
            right_parts.append(Segment(right[j1:j2], CHANGED))
        elif tag == "delete":
            left_parts.append(Segment(left[i1:i2], ONLY_HERE))
        else:  # insert
            right_parts.append(Segment(right[j1:j2], ONLY_HERE))
    return _joined(left_parts), _joined(right_parts)


def _joined(parts: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for part in parts:
        if out and out[-1].kind == part.kind:
            out[-1] = Segment(out[-1].text + part.text, part.kind)
        else:
            out.append(part)
    return out


def display_value(value: str | None, *, is_date: bool) -> str | None:
    """A value as a person reads it: dates as `9 Sep 2001` whatever digits the source sent; everything else as is."""
    if value is None or not is_date:
        return value
    parsed = parse_date(value)
    return f"{parsed.day} {parsed:%b %Y}" if parsed else value


def is_date_attribute(attribute) -> bool:
    return attribute.comparator == "DateTime" or looks_like_date_attribute(attribute.name)


# Why a pair is on the card. Derived from how the queue chose it (CandidatePair.origin, the model that proposed it and
# its score then) and from other curators' answers: the queue itself never stores a free-text reason.
ORIGIN_REASONS = {
    "similar_text": ("Cold start", "No model could judge pairs yet, so the queue asks about records with similar text first."),
    "random": ("Random check", "Drawn at random, not for being hard: answers to such pairs let the model's quality be estimated without bias."),
    "low_confidence": ("Low-confidence member", "A mastering run put these records together with low confidence."),
    "issue": ("From a data issue", "Someone reported a problem with these records."),
    "imported": ("Imported", "This pair came with imported labels."),
    "cluster_edit": ("Cluster edit", "A curator's edit of an entity taught this pair."),
}


def pair_reason(*, origin: str, proposed_by_version: int | None, score_then: float | None,
                other_answers: int, answers_needed: int, current_version: int | None, score_now: float | None,
                blind: bool = False) -> tuple[str, str]:
    """(short reason, one sentence) saying truthfully why this pair was asked; in blind mode without any score."""
    if other_answers and answers_needed > 1:
        return ("Second opinion", f"Each pair of this type is answered by {answers_needed} curators; "
                f"{other_answers} other answer{'s' if other_answers != 1 else ''} already given (not shown, so yours is independent).")
    if origin == "active_learning":
        if proposed_by_version is None or score_then is None:
            return ("Uncertain (cold start)", "Chosen by the active learner before any model was trained: "
                    "its first guess could not tell whether these records match.")
        if blind:
            return ("Uncertain", f"Chosen because model v{proposed_by_version} was unsure when the pair was queued.")
        sentence = (f"Chosen because model v{proposed_by_version} was unsure when the pair was queued "
                    f"(it said {percent(score_then)}).")
        if current_version is not None and current_version != proposed_by_version and score_now is not None:
            sentence += f" Model v{current_version}, trained since, says {percent(score_now)}."
        return ("Uncertain", sentence)
    return ORIGIN_REASONS.get(origin, (origin.replace("_", " ").capitalize(), ""))


def percent(score: float) -> str:
    """A probability for people: never a flat 100% or 0%, which the model cannot know."""
    if score >= 0.995:
        return "over 99%"
    if score <= 0.005:
        return "under 1%"
    return f"{round(score * 100)}%"


def score_in_words(score: float, threshold: float | None) -> str:
    """The model's probability as a sentence a curator can weigh, with where the clustering threshold stands."""
    if score >= 0.9:
        words = "very likely the same"
    elif score >= 0.7:
        words = "probably the same"
    elif score > 0.3:
        words = "unsure: the evidence points both ways"
    elif score > 0.1:
        words = "probably different"
    else:
        words = "very likely different"
    text = f"{percent(score)} likely the same: {words}."
    if threshold is not None:
        side = "would put them in one entity" if score >= threshold else "would keep them apart"
        text += f" A mastering run (threshold {round(threshold * 100)}%) {side}."
    return text


def effect_in_words(*, contribution: float | None, identical: float | None, left: str | None, right: str | None,
                    differs: bool = False) -> tuple[str, str]:
    """(css class, words): how this attribute moved the score, compared with what identical values would give.

    The model's raw per-attribute numbers (log-odds) are negative even for identical values, because dedupe measures
    a distance that is not zero for equal strings; against identical values the comparison is what a curator means.
    """
    if contribution is None:
        return ("", "")
    if left is None and right is None:
        return ("", "missing on both sides")
    if left is None or right is None:
        prefix = "missing on one side: "
    else:
        prefix = ""
    if identical is None:
        return ("", prefix + "not weighed")
    gap = contribution - identical
    if abs(gap) < 0.05:
        if prefix:
            return ("", prefix + "weighed as if identical")
        if differs:
            return ("", "differs, but the model weighs it as if identical")
        return ("effect-up", "counts toward a match")
    factor = math.exp(abs(gap))
    factor_text = f"{factor:.0f}×" if factor >= 10 else f"{factor:.1f}×"
    if gap < 0:
        return ("effect-down", f"{prefix}odds of a match {factor_text} lower than if identical")
    return ("effect-up", f"{prefix}odds {factor_text} higher than identical values give")

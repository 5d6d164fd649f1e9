"""A candidate pair as curators see it: both records aligned by attribute, with the model's view."""

from dataclasses import dataclass, field

from curation import pair_explain
from curation.models import CandidatePair, Label
from mastering.matchers import matcher_for
from mastering.config_cache import cached_active_model, cached_projection
from mastering.mapping import Projection


@dataclass
class AttributeRow:
    name: str
    left: str | None
    right: str | None
    differs: bool
    contribution: float | None = None
    label: str = ""
    left_parts: list[pair_explain.Segment] = field(default_factory=list)
    right_parts: list[pair_explain.Segment] = field(default_factory=list)
    effect_class: str = ""
    effect_words: str = ""
    left_shown: str | None = None  # as people read it (dates formatted); left/right stay the values the model compares
    right_shown: str | None = None

    @property
    def state(self) -> str:
        """same, differs, one-missing (a value on one side only) or both-missing: the card marks each distinctly."""
        if self.left is None and self.right is None:
            return "both-missing"
        if self.left is None or self.right is None:
            return "one-missing"
        return "differs" if self.differs else "same"


@dataclass
class PairView:
    pair: CandidatePair
    left_source: str
    right_source: str
    rows: list[AttributeRow] = field(default_factory=list)
    score: float | None = None
    baseline: float | None = None
    blind: bool = False
    reason: str = ""
    reason_detail: str = ""
    score_words: str = ""


def _norm(value: str | None) -> str:
    return " ".join((value or "").lower().split())


def present_pair(pair: CandidatePair, projection: Projection | None = None, *, threshold: float | None = None,
                 viewer=None) -> PairView:
    """Project both records onto the attributes, with character-level differences, why the pair is asked, and the
    current model's score and per-attribute effect in words (unless blind)."""
    entity_type = pair.entity_type
    projection = projection or cached_projection(entity_type)
    left, right = pair.left, pair.right
    left_values = projection.project(left.source_id, left.data)
    right_values = projection.project(right.source_id, right.data)
    view = PairView(pair, left.source.name, right.source.name, blind=entity_type.blind)
    for attribute in projection.attributes:
        a, b = left_values.get(attribute.name), right_values.get(attribute.name)
        is_date = pair_explain.is_date_attribute(attribute)
        shown_a, shown_b = pair_explain.display_value(a, is_date=is_date), pair_explain.display_value(b, is_date=is_date)
        row = AttributeRow(attribute.name, a, b, differs=_norm(a) != _norm(b), label=attribute.label,
                           left_shown=shown_a, right_shown=shown_b)
        if shown_a is not None and shown_b is not None and row.differs:
            row.left_parts, row.right_parts = pair_explain.char_diff(shown_a, shown_b)
        view.rows.append(row)
    model = cached_active_model(entity_type)
    if model is not None and not entity_type.blind:
        matcher = matcher_for(model)
        # The current model's own score: the one stored with the pair is from the model that queued it.
        view.score = round(matcher.score_pair(left_values, right_values), 4)
        contributions = {c.attribute: c.contribution for c in matcher.explain(left_values, right_values)}
        # What identical values would give each attribute: the yardstick for "how much did this difference cost".
        identical = _identical_contributions(matcher, left_values, right_values)
        view.baseline = contributions.get("(baseline)")
        for row in view.rows:
            row.contribution = contributions.get(row.name)
            row.effect_class, row.effect_words = pair_explain.effect_in_words(
                contribution=row.contribution, identical=identical.get(row.name), left=row.left, right=row.right,
                differs=row.differs)
        view.score_words = pair_explain.score_in_words(view.score, threshold)
    other_answers = 0
    if pair.answers_needed > 1:
        other_answers = Label.objects.active().filter(pair=pair).exclude(curator=viewer).count() if viewer else 0
    view.reason, view.reason_detail = pair_explain.pair_reason(
        origin=pair.origin, proposed_by_version=_version_of(pair), score_then=pair.score, other_answers=other_answers,
        answers_needed=pair.answers_needed, current_version=model.version if model is not None else None,
        score_now=view.score, blind=entity_type.blind)
    return view


def _version_of(pair: CandidatePair) -> int | None:
    if pair.model_id is None:
        return None
    return pair.model.version


def _identical_contributions(matcher, left_values: dict, right_values: dict) -> dict[str, float]:
    """Per attribute, the larger of what the left value and the right value get when compared with themselves."""
    best: dict[str, float] = {}
    for values in (left_values, right_values):
        for c in matcher.explain(values, values):
            if values.get(c.attribute) is not None:
                best[c.attribute] = max(best.get(c.attribute, c.contribution), c.contribution)
    return best


def pair_as_dict(view: PairView) -> dict:
    """The pair for the API: both sides' raw data plus the aligned attributes."""
    pair = view.pair
    return {
        "id": pair.pk,
        "left": {"source": pair.left.source.slug, "key": pair.left.key, "data": pair.left.data},
        "right": {"source": pair.right.source.slug, "key": pair.right.key, "data": pair.right.data},
        "score": view.score,
        "lease_expires": pair.claimed_until,
        "origin": pair.origin,
        "attributes": [
            {"name": r.name, "left": r.left, "right": r.right, "differs": r.differs, "contribution": r.contribution}
            for r in view.rows
        ],
    }

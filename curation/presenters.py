"""A candidate pair as curators see it: both records aligned by attribute, with the model's view."""

from dataclasses import dataclass, field

from curation.models import CandidatePair
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


@dataclass
class PairView:
    pair: CandidatePair
    left_source: str
    right_source: str
    rows: list[AttributeRow] = field(default_factory=list)
    score: float | None = None
    baseline: float | None = None
    blind: bool = False


def _norm(value: str | None) -> str:
    return " ".join((value or "").lower().split())


def present_pair(pair: CandidatePair, projection: Projection | None = None) -> PairView:
    """Project both records onto the attributes; add score and per-attribute explanation unless blind."""
    entity_type = pair.entity_type
    projection = projection or cached_projection(entity_type)
    left, right = pair.left, pair.right
    left_values = projection.project(left.source_id, left.data)
    right_values = projection.project(right.source_id, right.data)
    view = PairView(pair, left.source.name, right.source.name, blind=entity_type.blind)
    for attribute in projection.attributes:
        a, b = left_values.get(attribute.name), right_values.get(attribute.name)
        view.rows.append(AttributeRow(attribute.name, a, b, differs=_norm(a) != _norm(b)))
    model = cached_active_model(entity_type)
    if model is not None and not entity_type.blind:
        matcher = matcher_for(model)
        view.score = pair.score if pair.score is not None else round(matcher.score_pair(left_values, right_values), 4)
        contributions = {c.attribute: c.contribution for c in matcher.explain(left_values, right_values)}
        view.baseline = contributions.get("(baseline)")
        for row in view.rows:
            row.contribution = contributions.get(row.name)
    return view


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

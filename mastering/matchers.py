"""Matchers of model versions, loaded once per process: model versions never change once written."""

from mastering import engine
from mastering.models import MatchModel
from steward import long_lived

_MATCHERS: dict[tuple[int, str], engine.Matcher] = {}


def matcher_for(model: MatchModel) -> engine.Matcher:
    """A model version's matcher, loaded once per process."""
    key = (model.pk, model.created_at.isoformat())
    if key not in _MATCHERS:
        _MATCHERS[key] = engine.Matcher.from_settings(bytes(model.learned_settings))
        long_lived.freeze()  # a serving process keeps it: out of the collector's scans (steward.long_lived)
    return _MATCHERS[key]


def forget_matchers() -> None:
    """Drop every cached matcher (tests; memory pressure)."""
    _MATCHERS.clear()

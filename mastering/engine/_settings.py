"""Learned settings as bytes, in dedupe's own layout so StaticDedupe can load them too."""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from typing import Any

SETTINGS_FORMAT = "steward-engine/1"


@dataclass
class LoadedSettings:
    """What a settings blob holds: dedupe's three objects and our plain-data metadata."""

    data_model: Any
    classifier: Any
    predicates: tuple[Any, ...]
    metadata: dict[str, Any]


def dump_settings(data_model: Any, classifier: Any, predicates: tuple[Any, ...], metadata: dict[str, Any]) -> bytes:
    """Serialise a model: dedupe's three pickles, then a fourth with our metadata (plain builtins only)."""
    buffer = io.BytesIO()
    pickle.dump(data_model, buffer)
    pickle.dump(classifier, buffer)
    pickle.dump(predicates, buffer)
    # StaticDedupe stops reading after the third object, so the extra one keeps the blob loadable by it.
    pickle.dump({"format": SETTINGS_FORMAT, **metadata}, buffer)
    return buffer.getvalue()


def load_settings(settings: bytes) -> LoadedSettings:
    """Read a blob written by `dump_settings` (or by dedupe's `write_settings`, without metadata)."""
    buffer = io.BytesIO(settings)
    data_model = pickle.load(buffer)
    classifier = pickle.load(buffer)
    predicates = tuple(pickle.load(buffer))
    metadata: dict[str, Any] = {}
    if buffer.tell() < len(settings):
        extra = pickle.load(buffer)
        if isinstance(extra, dict) and extra.get("format") == SETTINGS_FORMAT:
            metadata = extra
    return LoadedSettings(data_model, classifier, predicates, metadata)

"""An entity type's projection and active model, kept per process: every labeling request reads them, they rarely change.

Entries are keyed by the entity type's `updated_at`. The services that change attributes, mappings or the active
model stamp it in their own transaction (`mark_configuration_changed`), and an admin's save of the entity type
stamps it too, so the next request in every process loads afresh. Saves and deletes of attributes, mappings and
models also clear this process's entries at once (the way Django's sites framework clears SITE_CACHE), and an
entry lives at most MAX_AGE seconds, which bounds a change made some other way (a shell, a bulk update).
"""

import threading
import time

from django.db.models.signals import post_delete, post_save

from mastering.mapping import Projection, projection_for
from mastering.models import Attribute, AttributeMapping, EntityType, MatchModel, Source, SourceField
from mastering.selectors import MODEL_HEAVY_FIELDS

MAX_AGE = 30.0

_entries: dict[int, tuple[tuple, float, Projection, MatchModel | None]] = {}
_lock = threading.Lock()


def _entry(entity_type: EntityType) -> tuple[Projection, MatchModel | None]:
    stamp = (entity_type.updated_at,)
    now = time.monotonic()
    cached = _entries.get(entity_type.pk)
    if cached is not None and cached[0] == stamp and now - cached[1] < MAX_AGE:
        return cached[2], cached[3]
    projection = projection_for(entity_type)
    # Without its blob: the matcher cache loads that once per model version, on first use.
    model = (MatchModel.objects.filter(entity_type=entity_type, active=True).defer(*MODEL_HEAVY_FIELDS)
             .order_by("-version").first())
    with _lock:
        _entries[entity_type.pk] = (stamp, now, projection, model)
    return projection, model


def cached_projection(entity_type: EntityType) -> Projection:
    """The entity type's projection, loaded at most once per change (or MAX_AGE) in this process."""
    return _entry(entity_type)[0]


def cached_active_model(entity_type: EntityType) -> MatchModel | None:
    """The entity type's active model without its blob, loaded at most once per change (or MAX_AGE) in this process."""
    return _entry(entity_type)[1]


# A source's fields, for the streaming path (every streamed record is checked against them), keyed the same way by
# the source's updated_at: update_source saves the source in the transaction that changes its fields.
_source_fields: dict[int, tuple[tuple, float, list[SourceField]]] = {}


def cached_source_fields(source: Source) -> list[SourceField]:
    """The source's fields (read-only instances, shared in this process), loaded at most once per change or MAX_AGE."""
    stamp = (source.updated_at,)
    now = time.monotonic()
    cached = _source_fields.get(source.pk)
    if cached is not None and cached[0] == stamp and now - cached[1] < MAX_AGE:
        return cached[2]
    fields = list(source.fields.all())
    with _lock:
        _source_fields[source.pk] = (stamp, now, fields)
    return fields


def forget_configurations(**_) -> None:
    """Drop every entry of this process (a signal receiver; tests)."""
    with _lock:
        _entries.clear()
        _source_fields.clear()


def connect_signals() -> None:
    for model in (Attribute, AttributeMapping, MatchModel, EntityType, Source, SourceField):
        post_save.connect(forget_configurations, sender=model, dispatch_uid=f"config-cache-save-{model.__name__}")
        post_delete.connect(forget_configurations, sender=model, dispatch_uid=f"config-cache-delete-{model.__name__}")

"""What an issue is about, shown the same way on the report form and the issue page."""

from types import SimpleNamespace

from mastering import selectors as mastering_selectors
from mastering.models import Entity, Membership


def _live(entity: Entity | None) -> Entity | None:
    if entity is None:
        return None
    try:
        return mastering_selectors.resolve_entity(entity_type=entity.entity_type, entity_id=entity.pk)[0]
    except Entity.DoesNotExist:
        return None


def target_preview(target) -> dict:
    """The target (a DataIssue, or resolve_target's fields) with its entity as it is now and its records, linked."""
    if isinstance(target, dict):
        target = SimpleNamespace(**{"entity": None, "attribute": None, "record": None, "other_record": None,
                                    "source": None, "value_when_filed": "", **target})
    entity = _live(target.entity)
    members = list(Membership.objects.filter(entity=entity).select_related("record__source").order_by("record_id")) if entity else []
    records = [r for r in (target.record, target.other_record) if r is not None]
    return {
        "label": target.target_label, "kind": target.target, "entity": entity, "moved": entity is not None and entity != target.entity,
        "golden": sorted((entity.golden or {}).items()) if entity else [], "attribute": target.attribute,
        "value_now": (entity.golden or {}).get(target.attribute.name) if entity and target.attribute else None,
        "value_when_filed": target.value_when_filed, "records": records, "source": target.source,
        "members": [m.record for m in members],
    }

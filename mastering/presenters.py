"""An entity as people read it: built once here, rendered by the entity page and the entity API alike."""

from dataclasses import dataclass, field

from mastering import history
from mastering.config_cache import cached_projection
from mastering.models import Attribute, Entity, Membership, RunChange
from mastering.provenance.members import Reason, membership_reasons

RECENT_CHANGES = 20


@dataclass(frozen=True)
class Member:
    """A member record, its values mapped onto the attributes, and why it belongs."""

    membership: Membership
    values: dict[str, str | None]
    reason: Reason | None = None

    @property
    def source(self) -> str:
        return self.membership.record.source.slug

    @property
    def key(self) -> str:
        return self.membership.record.key

    @property
    def why(self) -> str:
        if self.reason is not None:
            return self.reason.text
        why = self.membership.get_reason_display()
        if self.membership.confidence is not None:
            why = f"{why} ({self.membership.confidence:.2f})"
        return f"{why}, run #{self.membership.job_id}" if self.membership.job_id else why


@dataclass(frozen=True)
class Cell:
    """One member's value of one attribute: the chosen one, or one that differs from the golden value."""

    value: str | None
    chosen: bool
    differs: bool


@dataclass(frozen=True)
class GoldenValue:
    """One attribute's golden value, the rule and record it came from, and every member's value beside it."""

    attribute: Attribute
    value: str | None
    origin: dict
    cells: list[Cell] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.attribute.name

    @property
    def rule(self) -> str:
        return self.origin.get("rule") or self.attribute.survivorship

    @property
    def rule_label(self) -> str:
        """The rule in words ("Most frequent"), not its stored code."""
        rule = self.rule
        return Attribute.Rule(rule).label if rule in Attribute.Rule.values else rule.replace("_", " ").capitalize()


@dataclass(frozen=True)
class EntityView:
    entity: Entity
    golden_values: list[GoldenValue]
    members: list[Member]
    changes: list[RunChange]  # the latest first; each says who and why (`attribution`)


def present_entity(entity: Entity, *, changes: int = RECENT_CHANGES) -> EntityView:
    """The entity's golden values with their provenance, its members and why each belongs, and its latest changes.

    Pass an entity from `selectors.list_entities` (members with their records, runs and edits already loaded).
    """
    projection = cached_projection(entity.entity_type)
    memberships = list(entity.memberships.all())
    reasons = membership_reasons(entity, memberships=memberships)
    members = [Member(m, projection.project(m.record.source_id, m.record.data), reasons[m.record_id]) for m in memberships]
    golden_values = []
    for attribute in projection.attributes:
        value, origin = entity.golden.get(attribute.name), entity.provenance.get(attribute.name, {})
        cells = [Cell(m.values.get(attribute.name), chosen=origin.get("record") == m.membership.record_id,
                      differs=(m.values.get(attribute.name) or "") != (value or "")) for m in members]
        golden_values.append(GoldenValue(attribute, value, origin, cells))
    return EntityView(entity, golden_values, members, history.timeline(entity, limit=changes))

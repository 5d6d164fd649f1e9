"""Where one golden value came from: its rule, the record version and file row, the values it beat, any override."""

from dataclasses import dataclass, field
from datetime import datetime

from mastering.config_cache import cached_projection
from mastering.models import Attribute, Entity, IngestBatch, Membership, SourceRecord, SourceRecordVersion, ValueOverride
from mastering.resolution.explain import RULE_WORDS, explain_choice
from mastering.resolution.survivorship import Candidate
from mastering.services.golden import record_facts
from steward.templatetags.issue_links import ISSUE


@dataclass(frozen=True)
class Origin:
    """The source record version a value came from, and the batch, file and row that wrote that version."""

    record: SourceRecord
    version: int
    current: bool
    batch: IngestBatch | None
    file_row: int | None
    at: datetime | None
    value: str | None  # the attribute's value in that version
    data: dict = field(default_factory=dict)  # the version's cells, as the source sent them


@dataclass(frozen=True)
class Rival:
    """Another member's value for the attribute, and why the rule did not choose it."""

    record: SourceRecord
    value: str | None
    why: str


@dataclass
class ValueProvenance:
    entity: Entity
    attribute: Attribute
    value: str | None
    rule: str
    rule_words: str
    origin: Origin | None
    rivals: list[Rival] = field(default_factory=list)
    override: ValueOverride | None = None
    issue_ids: list[int] = field(default_factory=list)
    rule_choice: str | None = None  # what the rule chooses today, shown beside an override
    stale: bool = False  # the stored provenance no longer matches the rule over today's members


def _origin(stored: dict, members: dict[int, SourceRecord], projection) -> Origin | None:
    record = members.get(stored.get("record")) if stored.get("record") else None
    if record is None and stored.get("record"):
        record = SourceRecord.objects.select_related("source", "changed_batch").filter(pk=stored["record"]).first()
    if record is None:
        return None
    version = stored.get("version") or record.version
    if version == record.version:
        batch, row, at, data = record.changed_batch, record.file_row, record.updated_at, record.data
        current = True
    else:
        old = (SourceRecordVersion.objects.select_related("batch").filter(record=record, version=version).first())
        if old is None:
            return Origin(record, version, False, None, None, None, None)
        batch, row, at, data, current = old.batch, old.file_row, old.created_at, old.data, False
    values = projection.project(record.source_id, data)
    return Origin(record, version, current, batch, row, at, values.get(stored.get("attribute")), data)


def value_provenance(entity: Entity, attribute_name: str) -> ValueProvenance:
    """The golden value's full story; raises Attribute.DoesNotExist for a name the entity type lacks."""
    attribute = Attribute.objects.get(entity_type=entity.entity_type, name=attribute_name)
    stored = dict(entity.provenance.get(attribute.name, {}))
    projection = cached_projection(entity.entity_type)
    members = {m.record_id: m.record for m in Membership.objects.filter(entity=entity)
               .select_related("record__source", "record__changed_batch")}
    facts = record_facts(projection, record_ids=list(members))
    candidates = [Candidate(record=r, value=f["values"].get(attribute.name), version=f["version"], source=f["source"],
                            key=f["key"], priority=f["priority"], updated_at=f["updated"], created_at=f["created"])
                  for r, f in sorted(facts.items())]
    rule = attribute.survivorship
    winner, beaten = explain_choice(rule, candidates)
    story = ValueProvenance(entity, attribute, entity.golden.get(attribute.name), stored.get("rule") or rule,
                            RULE_WORDS.get(stored.get("rule") or rule, rule), None)
    if stored.get("rule") == "override":
        story.override = (ValueOverride.objects.select_related("user", "removed_by").filter(pk=stored.get("override")).first())
        reason = story.override.reason if story.override else stored.get("reason", "")
        story.issue_ids = [int(n) for n in ISSUE.findall(reason or "")]
        story.rule_choice = winner.value if winner else None
        story.rivals = [Rival(members[c.record], c.value, f"the rule ({attribute.get_survivorship_display().lower()}) "
                              + ("would choose it" if winner and c.record == winner.record else "would not choose it"))
                        for c in candidates]
        return story
    story.origin = _origin({**stored, "attribute": attribute.name}, members, projection)
    story.rivals = [Rival(members[b.candidate.record], b.candidate.value, b.why) for b in beaten]
    story.stale = winner is not None and stored.get("record") is not None and winner.value != story.value
    if story.origin is not None and story.origin.record.pk not in members:
        story.stale = True
    return story

"""Resolve an issue, optionally with an action that fixes the data through the curators' own services.

The action, its labels, the resolution and its Activity commit together or not at all: an action that fails
leaves the issue as it was.
"""

import itertools
import uuid
from collections.abc import Iterator

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from curation.models import CandidatePair, Label
from curation.services.labels import record_label
from mastering import selectors as mastering_selectors
from mastering.models import EntityType, Entity, IngestBatch, Job, Membership, ScoredPair, Source, SourceRecord
from mastering.services import entities as entity_services
from steward.errors import InvalidInput, ServiceError

from feedback.models import DataIssue, IssueAction, IssueEvent
from feedback.models.issues import MAX_DESCRIPTION
from feedback.services import corrections
from feedback.services.events import bump, record_event, require
from feedback.services.issues import clean_markdown

Resolution = DataIssue.Resolution
Kind = DataIssue.Kind

# Which actions fit which kind of issue; every kind may also be resolved without a data change.
ACTIONS_FOR_KIND: dict[str, set[str]] = {
    Kind.DUPLICATE: {Resolution.MERGE},
    Kind.WRONGLY_MERGED: {Resolution.SPLIT},
    Kind.WRONG_VALUE: {Resolution.OVERRIDE, Resolution.REQUEST_CORRECTION},
    Kind.MISSING_RECORD: {Resolution.LINK},
    Kind.OUTDATED: {Resolution.LINK},
}
# Labels one resolution teaches: the reported pair first, then the pairs that scored highest, as edits do.
LABELS_PER_ACTION = 5


class ResolutionRefused(ServiceError):
    pass


def _live_entity(entity: Entity | None) -> Entity:
    if entity is None:
        raise InvalidInput("The issue names no entity to act on.")
    try:
        live, _ = mastering_selectors.resolve_entity(entity_type=entity.entity_type, entity_id=entity.pk)
    except Entity.DoesNotExist as exc:
        raise ResolutionRefused(str(exc)) from None
    return live


def _entity_of(record: SourceRecord, issue: DataIssue) -> Entity:
    membership = Membership.objects.select_related("entity__entity_type").filter(
        record=record, entity_type=issue.entity_type).first()
    if membership is None:
        raise ResolutionRefused(f"Record {record} is in no entity yet; run mastering first.")
    return membership.entity


def _strongest_pairs(lefts: list[int], rights: list[int], entity_type) -> Iterator[tuple[int, int]]:
    """Pairs across the two groups, those the last run scored highest first (they pulled the records together)."""
    run = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER, status=Job.Status.DONE).order_by("-pk").first()
    across = Q(left__in=lefts, right__in=rights) | Q(left__in=rights, right__in=lefts)
    scored = list(ScoredPair.objects.filter(across, job=run).order_by("-score").values_list("left", "right")[:LABELS_PER_ACTION]) \
        if run else []
    # Lazy: only the first few pairs are taught, and a big entity has millions across.
    return itertools.chain(scored, (p for p in itertools.product(lefts, rights) if p not in scored and p[::-1] not in scored))


def _teach(issue: DataIssue, pairs, answer: str, user: AbstractBaseUser) -> list[Label]:
    chosen = []
    for a, b in pairs:
        if a != b and {a, b} not in [set(p) for p in chosen]:
            chosen.append((a, b))
        if len(chosen) == LABELS_PER_ACTION:
            break
    records = SourceRecord.objects.in_bulk({rid for pair in chosen for rid in pair})
    return [record_label(entity_type=issue.entity_type, a=records[a], b=records[b], answer=answer, curator=user,
                         origin=Label.Origin.ISSUE, pair_origin=CandidatePair.Origin.ISSUE, origin_note=f"issue #{issue.pk}")
            for a, b in chosen]


def _entity_by_id(entity_id, issue: DataIssue) -> Entity:
    try:
        return Entity.objects.select_related("entity_type").get(pk=uuid.UUID(str(entity_id)), entity_type=issue.entity_type)
    except (ValueError, Entity.DoesNotExist):
        raise InvalidInput(f"No {issue.entity_type.name if issue.entity_type else ''} entity with id {entity_id!r}.") from None


def _members(entity: Entity) -> list[int]:
    return sorted(Membership.objects.filter(entity=entity).values_list("record_id", flat=True))


def _merge(issue: DataIssue, user, reason: str, params: dict) -> dict:
    if issue.target == DataIssue.Target.PAIR:
        survivor, other = _entity_of(issue.record, issue), _entity_of(issue.other_record, issue)
        reported = [(issue.record_id, issue.other_record_id)]
    else:
        survivor = _live_entity(issue.entity)
        ids = params.get("entities") or []
        if not ids:
            raise InvalidInput("Name the entity to merge into this one (entities: [id]).")
        other = _live_entity(_entity_by_id(ids[0], issue))
        reported = []
    if survivor.pk == other.pk:
        raise ResolutionRefused("These records are already one entity; there is nothing to merge.")
    anchors, absorbed = _members(survivor), _members(other)
    # learn=False: the labels below carry this issue's origin; the cluster-edit listener would add a second set.
    edit = entity_services.merge_entities(survivor=survivor, others=[other], user=user, reason=reason, learn=False)
    labels = _teach(issue, reported + list(itertools.product(anchors[:1], absorbed)), Label.Answer.MATCH, user)
    return {"edit": edit, "labels": labels, "entities": [str(survivor.pk), str(other.pk)]}


def _split(issue: DataIssue, user, reason: str, params: dict) -> dict:
    entity = _live_entity(issue.entity) if issue.entity else _entity_of(issue.record, issue)
    records = [int(r) for r in params.get("records") or []]
    if not records and issue.target == DataIssue.Target.PAIR:
        records = [issue.other_record_id]
    elif not records and issue.target == DataIssue.Target.RECORD:
        records = [issue.record_id]
    if not records:
        raise InvalidInput("Choose the records to split out (records: [id]).")
    staying = [r for r in _members(entity) if r not in set(records)]
    edit, new_entity = entity_services.split_records(entity=entity, records=records, user=user, reason=reason,
                                                     learn=False)  # the issue teaches its own labels
    reported = [(issue.record_id, issue.other_record_id)] if issue.target == DataIssue.Target.PAIR else []
    labels = _teach(issue, itertools.chain(reported, _strongest_pairs(sorted(records), staying, issue.entity_type)),
                    Label.Answer.DISTINCT, user)
    return {"edit": edit, "labels": labels, "entities": [str(entity.pk), str(new_entity.pk)]}


def _override(issue: DataIssue, user, reason: str, params: dict) -> dict:
    if issue.target != DataIssue.Target.VALUE:
        raise InvalidInput("An override needs an issue filed on one golden value (an entity and an attribute).")
    value = params.get("value")
    value = issue.expected_value if value is None else str(value)
    entity = _live_entity(issue.entity)
    override = entity_services.override_value(entity=entity, attribute=issue.attribute, value=value, user=user, reason=reason)
    return {"override": override, "labels": [], "entities": [str(entity.pk)]}


def _request_correction(issue: DataIssue, user, reason: str, params: dict) -> dict:
    live = _live_entity(issue.entity) if issue.target == DataIssue.Target.VALUE else None
    value = params.get("value")
    expected = (issue.expected_value if value is None else str(value)).strip()
    return corrections.request_correction(issue, user, field=params.get("field"), expected=expected, live_entity=live)


def _link(issue: DataIssue, user, reason: str, params: dict) -> dict:
    """Point at the batch or record that brings the missing or current data; it must feed the issue's entity type."""
    batch_id, source, key = params.get("batch"), params.get("source"), params.get("key")
    if batch_id and (source or key):
        raise InvalidInput("Link either a batch or a record (source and key), not both.")
    batch = record = None
    if batch_id:
        batch = IngestBatch.objects.select_related("source").filter(pk=batch_id).first()
        if batch is None:
            raise InvalidInput(f"No ingest batch #{batch_id}.")
        if batch.status != IngestBatch.Status.SUCCEEDED:
            raise InvalidInput(f"Batch #{batch.pk} {batch.get_status_display().lower()}; only a batch that succeeded fixes data.")
        found_source = batch.source
    elif source and key:
        found_source = Source.objects.filter(slug=source).first()
        record = SourceRecord.objects.select_related("source").filter(source=found_source, key=str(key)).first() \
            if found_source else None
        if record is None:
            raise InvalidInput(f"No record with key {key!r} in source {source!r}.")
    else:
        raise InvalidInput("Name the batch (batch: id) or the record (source and key) that fixes the issue.")
    if issue.entity_type_id and not EntityType.objects.filter(pk=issue.entity_type_id,
                                                              attributes__mappings__source=found_source).exists():
        raise InvalidInput(f"{found_source.name} is not mapped to {issue.entity_type.name}, the entity type this issue is about.")
    if issue.entity_type_id is None and issue.source_id and issue.source_id != found_source.pk:
        raise InvalidInput(f"This issue is about source {issue.source.name}, not {found_source.name}.")
    return {"labels": [], "entities": [], "batch": batch, "record": record}


RUNNERS = {Resolution.MERGE: _merge, Resolution.SPLIT: _split, Resolution.OVERRIDE: _override,
           Resolution.REQUEST_CORRECTION: _request_correction, Resolution.LINK: _link}


@transaction.atomic
def resolve_issue(*, issue: DataIssue, user: AbstractBaseUser, version: int, action: str = Resolution.NO_ACTION,
                  note: str = "", records: list[int] | None = None, entities: list[str] | None = None,
                  value: str | None = None, field: str | None = None, batch: int | None = None, source: str | None = None,
                  key: str | None = None) -> DataIssue:
    """Resolve the issue, first applying `action` (merge, split, override, link) with the labels it teaches.

    request_correction does not resolve: the issue waits on the source until a later version of the record settles it.
    """
    require(user, "work_issue", issue, "resolve this issue")
    if action not in Resolution.values:
        raise InvalidInput(f"Unknown action {action!r}; choose one of: {', '.join(Resolution.values)}.")
    if action != Resolution.NO_ACTION and action not in ACTIONS_FOR_KIND.get(issue.kind, set()):
        fitting = ", ".join(sorted(ACTIONS_FOR_KIND.get(issue.kind, set())) or ["none"])
        raise InvalidInput(f"A '{issue.get_kind_display()}' issue is not resolved by {action}; actions that fit: {fitting}.")
    if not issue.is_open:
        raise ResolutionRefused(f"Issue #{issue.pk} is {issue.get_status_display().lower()}; reopen it first.")
    note = clean_markdown(note, what="note", limit=MAX_DESCRIPTION)
    before = issue.status
    waits = action == Resolution.REQUEST_CORRECTION
    fields = {"status": DataIssue.Status.WAITING_SOURCE, "resolution": "", "resolution_note": note} if waits else {
        "status": DataIssue.Status.RESOLVED, "resolution": action, "resolution_note": note, "resolved_at": timezone.now(),
        "resolved_by": user}
    issue = bump(issue, version=version, **fields)
    if not waits:
        corrections.withdraw_corrections(issue)
    reason = f"issue #{issue.pk}: {issue.title}"[:500]
    outcome, action_row, outputs = {}, None, []
    if action != Resolution.NO_ACTION:
        outcome = RUNNERS[action](issue, user, reason, {"records": records, "entities": entities, "value": value,
                                                        "field": field, "batch": batch, "source": source, "key": key})
        action_row = IssueAction.objects.create(issue=issue, kind=action, user=user, edit=outcome.get("edit"),
                                                override=outcome.get("override"), entities=outcome["entities"],
                                                batch=outcome.get("batch"), record=outcome.get("record"))
        action_row.labels.set(outcome["labels"])
        outputs = [o for o in (outcome.get("edit"), outcome.get("override"), outcome.get("batch"), outcome.get("record"),
                               outcome.get("correction")) if o is not None] + outcome["labels"]
    if waits:
        correction = outcome["correction"]
        summary = (f"asked {correction.owner.username}, owner of {correction.record.source.name}, to correct "
                   f"{correction.field} of record {correction.record.key}"
                   + (f" to “{correction.expected_value}”" if correction.expected_value else ""))
    else:
        summary = f"resolved ({issue.get_resolution_display().lower()})"
    # Waiting on the source is a status change (webhooks say "status"), not a resolution.
    event = record_event(issue, actor=user, kind=IssueEvent.Kind.STATUS if waits else IssueEvent.Kind.RESOLVED,
                         action=action_row, outputs=outputs, changes={"status": [before, issue.status], "resolution": ["", action]},
                         summary=summary)
    if action_row is not None:
        IssueAction.objects.filter(pk=action_row.pk).update(activity=event.activity)
    return issue

"""Fix at the source: ask a source's owner to correct a wrong value, and re-check when that record changes.

Mastering tells feedback about every finished batch (mastering.services.batch_listeners); feedback re-checks the
records that batch changed in a task after the commit, so the batch itself never waits on issues.
"""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from feedback import tasks
from feedback.models import DataIssue, IssueAction, IssueEvent, SourceCorrection
from feedback.services.events import bump, record_event
from mastering.models import AttributeMapping, IngestBatch, SourceField, SourceRecord
from steward.errors import InvalidInput, ServiceError

Status = DataIssue.Status


class CorrectionRefused(ServiceError):
    pass


def _shown(value) -> str:
    return "" if value is None else str(value)


def wrong_value_location(issue: DataIssue, field: str | None, live_entity) -> tuple[SourceRecord, str]:
    """The source record and field that hold the issue's wrong value."""
    if issue.target == DataIssue.Target.VALUE:
        provenance = (live_entity.provenance or {}).get(issue.attribute.name) or {}
        if not provenance.get("record"):
            how = "an override" if provenance.get("rule") == "override" else "no source record"
            raise CorrectionRefused(f"The golden {issue.attribute.name} comes from {how}, so no source owner can correct it.")
        record = SourceRecord.objects.select_related("source__owner").filter(pk=provenance["record"]).first()
        if record is None:
            raise CorrectionRefused("The record the golden value came from is gone; run mastering again.")
        if not field:
            mapping = (AttributeMapping.objects.select_related("field")
                       .filter(attribute=issue.attribute, source=record.source).order_by("position", "pk").first())
            if mapping is None:
                raise CorrectionRefused(f"{record.source.name} has no field mapped to {issue.attribute.name}.")
            field = mapping.field.name
    elif issue.target == DataIssue.Target.RECORD:
        record = SourceRecord.objects.select_related("source__owner").get(pk=issue.record_id)
        if not field:
            raise InvalidInput("Name the source field that holds the wrong value (field).")
    else:
        raise InvalidInput("A correction request needs an issue filed on one golden value or on one source record.")
    if not SourceField.objects.filter(source=record.source, name=field).exists():
        raise InvalidInput(f"{record.source.name} has no field {field!r}.")
    return record, field


def request_correction(issue: DataIssue, user: AbstractBaseUser, *, field: str | None, expected: str, live_entity) -> dict:
    """Ask the source's owner to correct the value (the resolution runner; resolve_issue holds the transaction)."""
    record, field = wrong_value_location(issue, field, live_entity)
    owner = record.source.owner
    if owner is None or not owner.is_active:
        raise CorrectionRefused(f"{record.source.name} has no active owner to ask; an admin names one on the source, "
                                "or override the value here.")
    SourceCorrection.objects.filter(issue=issue, outcome=SourceCorrection.Outcome.WAITING).update(
        outcome=SourceCorrection.Outcome.WITHDRAWN, settled_at=timezone.now())
    correction = SourceCorrection.objects.create(issue=issue, record=record, field=field, owner=owner,
                                                 value_when_requested=_shown(record.data.get(field)),
                                                 expected_value=expected, record_version=record.version)
    issue.watchers.add(owner)  # the owner is told now (they follow the issue) and about every re-check
    return {"labels": [], "entities": [str(live_entity.pk)] if live_entity else [], "record": record,
            "correction": correction, "status": Status.WAITING_SOURCE}


def withdraw_corrections(issue: DataIssue) -> int:
    """The issue left 'waiting on the source' another way: its open correction requests no longer wait."""
    return SourceCorrection.objects.filter(issue=issue, outcome=SourceCorrection.Outcome.WAITING).update(
        outcome=SourceCorrection.Outcome.WITHDRAWN, settled_at=timezone.now())


def on_batch_finished(batch: IngestBatch) -> None:
    """Batch listener (registered in FeedbackConfig.ready): re-check after the batch commits, in a task."""
    if not (batch.updated or batch.retired):
        return  # only new records (a streamed record first seen): none has a correction waiting, so spare the read
    if SourceCorrection.objects.filter(outcome=SourceCorrection.Outcome.WAITING, record__source_id=batch.source_id).exists():
        transaction.on_commit(lambda: tasks.recheck_source_corrections.delay(batch.pk))


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


@transaction.atomic
def recheck_source_corrections(*, batch_id: int) -> list[SourceCorrection]:
    """For each waiting correction whose record this batch changed: resolve when fixed as asked, else say what it holds."""
    batch = IngestBatch.objects.select_related("source").get(pk=batch_id)
    waiting = (SourceCorrection.objects.filter(outcome=SourceCorrection.Outcome.WAITING, record__changed_batch_id=batch.pk)
               .select_related("record__source", "issue"))
    settled = []
    for correction in waiting:
        record = correction.record
        if record.version <= correction.record_version:
            continue
        now_value = _shown(record.data.get(correction.field))
        where = f"{record.source.name} record {record.key} v{record.version} (batch #{batch.pk})"
        if _same(now_value, correction.value_when_requested):
            # A new version that left the field alone: keep waiting, but say it was looked at.
            SourceCorrection.objects.filter(pk=correction.pk).update(record_version=record.version)
            record_event(correction.issue, actor=None, kind=IssueEvent.Kind.RECHECKED,
                         changes={correction.field: [correction.value_when_requested, now_value]},
                         summary=f"re-checked: {where} still has {correction.field} “{now_value}”")
            continue
        fixed = bool(correction.expected_value) and _same(now_value, correction.expected_value)
        outcome = SourceCorrection.Outcome.FIXED if fixed else SourceCorrection.Outcome.CHANGED
        # Compare-and-set: a redelivered task, or a steward withdrawing it meanwhile, settles it at most once.
        if not SourceCorrection.objects.filter(pk=correction.pk, outcome=SourceCorrection.Outcome.WAITING).update(
                outcome=outcome, checked_batch=batch, settled_at=timezone.now(), record_version=record.version):
            continue
        issue = DataIssue.objects.get(pk=correction.issue_id)
        change = {correction.field: [correction.value_when_requested, now_value]}
        if fixed and issue.status == Status.WAITING_SOURCE:
            issue = bump(issue, version=issue.version, status=Status.RESOLVED, resolution=DataIssue.Resolution.FIXED_AT_SOURCE,
                         resolved_at=timezone.now(), resolved_by=None)
            action = IssueAction.objects.create(issue=issue, kind=DataIssue.Resolution.FIXED_AT_SOURCE, record=record, batch=batch)
            event = record_event(issue, actor=None, kind=IssueEvent.Kind.RESOLVED, action=action, outputs=[record],
                                 changes={**change, "status": [Status.WAITING_SOURCE, Status.RESOLVED]},
                                 summary=f"fixed at the source: {where} now has {correction.field} “{now_value}”")
            IssueAction.objects.filter(pk=action.pk).update(activity=event.activity)
        elif issue.status == Status.WAITING_SOURCE:
            asked = f", not “{correction.expected_value}” as asked" if correction.expected_value else ""
            # Changed, but not (known to be) as asked: back to someone who works on it.
            issue = bump(issue, version=issue.version, status=Status.ACKNOWLEDGED)
            record_event(issue, actor=None, kind=IssueEvent.Kind.RECHECKED,
                         changes={**change, "status": [Status.WAITING_SOURCE, Status.ACKNOWLEDGED]},
                         summary=f"re-checked: {where} changed {correction.field} to “{now_value}”{asked}; please review")
        settled.append(correction)
    return settled

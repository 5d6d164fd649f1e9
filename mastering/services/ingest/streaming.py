"""One record into a source (the streaming path, PUT): checked and written inside the request."""

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import OperationalError, transaction
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activities
from mastering.config_cache import cached_source_fields
from mastering.ingest.documents import record_json
from mastering.ingest.orm_merger import archived_version
from mastering.ingest.text import flaw, has_surrogate, shown
from mastering.ingest.validation import ValidatedChunk, Validator
from mastering.models import BatchSighting, IngestBatch, Source, SourceRecord, SourceRecordVersion
from mastering.services.batch_listeners import notify_batch_listeners
from mastering.services.ingest.gate import LOCK_NOT_AVAILABLE, check_active, lock_source_and_read, source_busy, source_validator
from mastering.services.matching import IndexNotReady, NotTrained
from mastering.services.stream_master import Placement, place_record
from steward.db import sqlite_lock_wait
from steward.errors import InvalidInput

# A streamed record waits this long for a batch writing to its source, then is answered 503 "busy, retry".
STREAM_LOCK_WAIT_SECONDS = 5


@dataclass
class Streamed:
    """A stored record and, on a stream-mode source, where it was placed in each entity type."""

    record: SourceRecord
    placements: list[Placement] = field(default_factory=list)


def stream_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> Streamed:
    """Store one record and, on a stream-mode source, master it at once (flow 4), all in one transaction.

    Without an active model (or with entities mastered by another model version) the record is stored all the
    same, and NotTrained (IndexNotReady) is raised after it commits: the next mastering run matches it.
    """
    waiting = None
    try:
        with sqlite_lock_wait(STREAM_LOCK_WAIT_SECONDS), transaction.atomic():
            upserted = _upsert_record(source=source, key=key, data=data, user=user)
            streamed = Streamed(upserted.record)
            activities = [upserted.activity]
            if source.ingest_mode == Source.IngestMode.STREAM:
                try:
                    # place_record writes nothing before it may refuse (no model, an index of another model), so a
                    # refusal leaves the stored record without a savepoint.
                    streamed.placements = place_record(record=streamed.record, user=user, fresh=upserted.created,
                                                       activities=activities)
                except (NotTrained, IndexNotReady) as exc:
                    waiting = type(exc)(f"Stored {source.slug}:{streamed.record.key} as version {streamed.record.version}, "
                                        f"but not matched: {exc.message}")
            # The ingest's Activity and the placement's, in two statements.
            record_activities(activities=activities)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        # The bounded wait for the source's lock ran out; the transaction (or the caller's savepoint) is rolled back.
        raise source_busy(source) from None
    if waiting is not None:
        raise waiting
    return streamed


def upsert_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> SourceRecord:
    """Create or replace one record (the streaming path); an unchanged record keeps its version.

    A PUT replaces the whole record, as HTTP has it: a field left out of data becomes empty (tables, by
    contrast, keep the current value of a column they leave out). data without any field of the source
    besides the key is refused, since it would empty the record.
    """
    # SQLite has one writer for the whole file, taken as the transaction begins: wait for it as long as PostgreSQL
    # waits for the source's lock, then answer 503 (steward.errors.busy_from_lock_timeout) rather than hang.
    return stream_record(source=source, key=key, data=data, user=user).record


@dataclass
class _Upserted:
    record: SourceRecord
    created: bool
    activity: dict  # record_activity's arguments, written with the placement's


def _upsert_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> _Upserted:
    check_active(source)
    if not isinstance(data, dict):
        raise InvalidInput("The record must be a JSON object of field values.")
    nested = [name for name, value in data.items() if isinstance(value, (dict, list))]
    if nested:
        raise InvalidInput(f"Values must be plain, not objects or lists: {', '.join(nested)}.")
    # A JSON \u escape can spell text that cannot be stored (a NUL, an unpaired surrogate), as in a table's objects.
    unstorable = [f"The field name {shown(str(name))} has {flaw(str(name))}" for name in data if flaw(str(name))]
    unstorable += [f"{shown(str(name))} holds {flaw(value)}" for name, value in data.items()
                   if isinstance(value, str) and has_surrogate(value)]
    if unstorable:
        raise InvalidInput("; ".join(unstorable) + ".")
    fields = cached_source_fields(source)  # read once per change of the source in this process
    others = [f.name for f in fields if f.name != source.key_field]
    if others and not any(name in data for name in others):
        given = ", ".join(str(name) for name in data if name != source.key_field) or "none"
        raise InvalidInput(
            f"The record has no field of this source besides the key {source.key_field!r} (fields given: {given}). "
            f"Expected at least one of: {', '.join(others)}. A PUT replaces the whole record, so send every field "
            "it should keep.")
    given_key = data.get(source.key_field)
    if given_key not in (None, "") and str(given_key).strip() != str(key).strip():
        raise InvalidInput(f"The record's {source.key_field} ({given_key}) differs from the key in the address ({key}).")
    cells = {name: ("" if value is None else ("true" if value is True else "false" if value is False else str(value)))
             for name, value in data.items()}
    cells[source.key_field] = str(key)
    validator = source_validator(source, fields=fields)
    validated, problems = validator.validate_one(cells, row=2)  # row 2, as a one-row table would number it
    if problems:
        for problem in problems:
            problem.pop("row", None)
        raise InvalidInput(
            "; ".join(f"{p['column']} {p['reason']}" for p in problems), problems=problems
        )
    # The source's lock and the record the PUT replaces, in one round trip; stream_record answers a timeout.
    key = validated.keys[0].as_py()
    (existing,) = lock_source_and_read(source, SourceRecord.objects.filter(source=source, key=key).order_by()[:1],
                                       wait_seconds=STREAM_LOCK_WAIT_SECONDS) or [None]
    record, outcome, batch = _write_one(source, validator, validated, user, existing)
    return _Upserted(record, outcome == "created", {
        "kind": Activity.Kind.STREAM, "actor": user, "summary": f"{source.name}:{record.key} {outcome} (v{record.version})",
        "parameters": {"channel": batch.channel, "counts": batch.counts}, "inputs": [source], "outputs": [batch, record],
        "started_at": batch.started_at})


def _write_one(source: Source, validator: Validator, validated: ValidatedChunk, user: AbstractBaseUser | None,
               existing: SourceRecord | None) -> tuple[SourceRecord, str, IngestBatch]:
    """Write one validated row as the batch writers would (a new version only when its content changed), in as few
    statements as one row needs: the batch, then the record (and its archived version); `existing`: its record, read
    under the source's lock."""
    types = {spec.name: spec.type for spec in validator.fields}
    key, content_hash, row = validated.keys[0].as_py(), validated.hashes[0].as_py(), int(validated.rows[0])
    document = record_json(validated.records()[0], types)
    if existing is None:
        outcome = "created"
    elif existing.content_hash != content_hash or existing.retired:
        outcome = "updated"
    else:
        outcome = "unchanged"
    now = timezone.now()
    batch = IngestBatch.objects.create(
        source=source, user=user, channel=IngestBatch.Channel.STREAM, file_name="", mode=IngestBatch.Mode.APPEND,
        status=IngestBatch.Status.SUCCEEDED, started_at=now, finished_at=now, received=1, rows_read=1,
        created=int(outcome == "created"), updated=int(outcome == "updated"), unchanged=int(outcome == "unchanged"),
        warnings=validator.warnings)
    if existing is None:
        record = SourceRecord.objects.create(source=source, key=key, data=document, content_hash=content_hash, version=1,
                                             first_batch=batch, changed_batch=batch, file_row=row, created_at=now,
                                             updated_at=now)
    elif outcome == "updated":
        record = existing
        SourceRecordVersion.objects.create(**archived_version(record))
        record.data, record.content_hash, record.version, record.retired = document, content_hash, record.version + 1, False
        record.changed_batch, record.file_row, record.updated_at = batch, row, now
        record.save(update_fields=["data", "content_hash", "version", "retired", "changed_batch", "file_row", "updated_at"])
    else:
        record = existing
        BatchSighting.objects.create(batch=batch, first_record_id=record.pk, last_record_id=record.pk)
    record.source = source  # its label in lineage, without a read
    if outcome != "unchanged":
        notify_batch_listeners(batch)
    return record, outcome, batch

"""One record into a source (the streaming path, PUT): checked and written inside the request."""

import pandas as pd
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from lineage.models import Activity
from lineage.services import record_activity
from mastering.ingest.merging import open_merger
from mastering.ingest.text import flaw, has_surrogate, shown
from mastering.models import IngestBatch, Source, SourceRecord
from mastering.services.batch_listeners import notify_batch_listeners
from mastering.services.ingest.gate import check_active, lock_source, source_validator
from steward.db import sqlite_lock_wait
from steward.errors import InvalidInput

# A streamed record waits this long for a batch writing to its source, then is answered 503 "busy, retry".
STREAM_LOCK_WAIT_SECONDS = 5


def upsert_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> SourceRecord:
    """Create or replace one record (the streaming path); an unchanged record keeps its version.

    A PUT replaces the whole record, as HTTP has it: a field left out of data becomes empty (tables, by
    contrast, keep the current value of a column they leave out). data without any field of the source
    besides the key is refused, since it would empty the record.
    """
    # SQLite has one writer for the whole file, taken as the transaction begins: wait for it as long as PostgreSQL
    # waits for the source's lock, then answer 503 (steward.errors.busy_from_lock_timeout) rather than hang.
    with sqlite_lock_wait(STREAM_LOCK_WAIT_SECONDS), transaction.atomic():
        return _upsert_record(source=source, key=key, data=data, user=user)


def _upsert_record(*, source: Source, key: str, data: dict, user: AbstractBaseUser | None) -> SourceRecord:
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
    others = [f.name for f in source.fields.all() if f.name != source.key_field]
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
    validator = source_validator(source)
    frame = pd.DataFrame([cells])
    validated, problems = validator.validate(frame, pd.Series([2], index=frame.index))
    if problems:
        for problem in problems:
            problem.pop("row", None)
        raise InvalidInput(
            "; ".join(f"{p['column']} {p['reason']}" for p in problems), problems=problems
        )
    validated.absent = {}  # a PUT replaces the record: a field it leaves out is empty, not kept
    lock_source(source, wait_seconds=STREAM_LOCK_WAIT_SECONDS)
    now = timezone.now()
    batch = IngestBatch.objects.create(
        source=source, user=user, channel=IngestBatch.Channel.STREAM, file_name="", mode=IngestBatch.Mode.APPEND,
        status=IngestBatch.Status.RUNNING, started_at=now, received=1, rows_read=1,
    )
    with open_merger(batch, {s.name: s.type for s in validator.fields}) as merger:
        merger.add(validated)
        counts = merger.finish(snapshot=False, present_keys=set())
    batch.created, batch.updated, batch.unchanged = counts.created, counts.updated, counts.unchanged
    batch.status, batch.finished_at = IngestBatch.Status.SUCCEEDED, timezone.now()
    batch.warnings = validator.warnings
    batch.save()
    record = SourceRecord.objects.get(source=source, key=validated.keys[0].as_py())
    record_activity(
        kind=Activity.Kind.STREAM, actor=user,
        summary=f"{source.name}:{record.key} {'created' if counts.created else 'updated' if counts.updated else 'unchanged'} (v{record.version})",
        parameters={"channel": batch.channel, "counts": batch.counts}, inputs=[source], outputs=[batch, record],
        started_at=now,
    )
    if counts.created or counts.updated:
        notify_batch_listeners(batch)
    return record

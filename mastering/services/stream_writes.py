"""The writes of a streamed record's placement in one statement each (PostgreSQL): a PUT pays a round trip and a
query compilation per statement, and placing a record took five (lock, membership, singletons, entity, change).

Both are steps of stream_master.place_record, which writes the Activity in the same transaction. Elsewhere
(SQLite) stream_master writes the same rows with the ORM.
"""

import json
import uuid
from datetime import datetime

from django.db import connection

_CHANGE_COLUMNS = ("entity_type_id, job_id, edit_id, user_id, reason, entity_id, kind, added, removed, golden_before, "
                   "golden_after, related, created_at")


def _change_values(change: dict, now: datetime) -> tuple[str, list]:
    """A RunChange row (stream_master._change_fields) as the values of an INSERT ... SELECT."""
    sql = "%s, NULL, NULL, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb, %s::jsonb, %s"
    return sql, [change["entity_type_id"], change["user_id"], change["reason"], change["entity_id"], change["kind"],
                 json.dumps(change["added"]), json.dumps(change["removed"]), json.dumps(change["golden_before"]),
                 json.dumps(change["golden_after"]), json.dumps(change["related"]), now]


def start_entity(*, entity_id: uuid.UUID, entity_type_id: int, record_id: int, golden: dict, provenance: dict,
                 change: dict, now: datetime) -> None:
    """A new entity of one record: the entity, its singleton membership and its NEW change, in one statement."""
    change_sql, change_params = _change_values(change, now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH entity AS (
                INSERT INTO mastering_entity (id, entity_type_id, size, confidence, golden, provenance, pinned, created_job_id,
                                              changed_job_id, retired_at, retired_into_id, created_at, updated_at)
                VALUES (%s, %s, 1, NULL, %s::jsonb, %s::jsonb, false, NULL, NULL, NULL, NULL, %s, %s)
            ), member AS (
                INSERT INTO mastering_membership (entity_type_id, entity_id, record_id, confidence, reason, edit_id, job_id)
                VALUES (%s, %s, %s, NULL, 'singleton', NULL, NULL)
            )
            INSERT INTO mastering_runchange ({_CHANGE_COLUMNS}) SELECT {change_sql}
            """,
            [entity_id, entity_type_id, json.dumps(golden), json.dumps(provenance), now, now,
             entity_type_id, entity_id, record_id, *change_params])


def join_entity(*, entity_id: uuid.UUID, stamp: datetime, entity_type_id: int, record_id: int, score: float,
                promote_singletons: bool, golden: dict, provenance: dict, size: int, confidence: float | None,
                change: dict | None, now: datetime, membership_id: int | None = None) -> bool:
    """The record joins the entity (or, with `membership_id`, its membership there is confirmed at `score`) if nothing
    changed the entity since the match read it (its updated_at is `stamp`), in one statement: lock the entity, add
    or update the membership, mark its singletons matched, write its golden record (computed from the members as
    read) and its change (if any). False when the entity changed or was retired meanwhile: nothing was written, and
    the caller places the record the long way.

    The lock's condition is re-checked on the newest row once a concurrent writer commits (READ COMMITTED), so a
    stream that changed the entity meanwhile is never overwritten.
    """
    params: list = [entity_id, stamp]
    if membership_id is None:
        member = """INSERT INTO mastering_membership (entity_type_id, entity_id, record_id, confidence, reason, edit_id,
                                                      job_id)
                    SELECT %s, id, %s, %s, 'model', NULL, NULL FROM locked"""
        params += [entity_type_id, record_id, score]
    else:
        member = """UPDATE mastering_membership SET entity_id = %s, reason = 'model', confidence = %s, edit_id = NULL,
                                                    job_id = NULL
                    WHERE id = %s AND EXISTS (SELECT 1 FROM locked)"""
        params += [entity_id, score, membership_id]
    singletons = ""
    if promote_singletons:
        singletons = """, singletons AS (
                UPDATE mastering_membership SET reason = 'model', confidence = %s
                WHERE entity_id IN (SELECT id FROM locked) AND reason = 'singleton' AND record_id <> %s
            )"""
        params += [score, record_id]
    params += [json.dumps(golden), json.dumps(provenance), size, confidence, now]
    written = ""
    if change is not None:
        change_sql, change_params = _change_values(change, now)
        written = f", change AS (INSERT INTO mastering_runchange ({_CHANGE_COLUMNS}) SELECT {change_sql} FROM locked)"
        params += change_params
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH locked AS MATERIALIZED (
                SELECT id FROM mastering_entity WHERE id = %s AND retired_at IS NULL AND updated_at = %s FOR UPDATE
            ), member AS ({member}){singletons}, entity AS (
                UPDATE mastering_entity SET golden = %s::jsonb, provenance = %s::jsonb, size = %s, confidence = %s,
                                            updated_at = %s
                WHERE id IN (SELECT id FROM locked)
            ){written}
            SELECT COUNT(*) FROM locked
            """,
            params)
        (locked,) = cursor.fetchone()
    return bool(locked)

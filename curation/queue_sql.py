"""The claim's two statements written as SQL once per process, not compiled by the ORM on every request.

A claim is the hottest request Steward has (fifty curators, every few seconds each). Built with the ORM, the pick
(two id subqueries under COALESCE, the curator's answered pairs excluded, both records and their sources joined)
cost 2.5 ms of Python to compile against 0.4 ms to run; written here it is text with parameters. The conditions
are those of `CandidatePairQuerySet.claimable_by` and `selectors.next_pair_to_claim`, which stay the readable
definition (and what tests/curation/test_queue_sql.py checks this module against).
"""

from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from curation.models import CandidatePair, Label
from mastering.models import EntityType, Job, MatchModel, Source, SourceRecord

# The card's objects, in the order their columns come in a picked row: pair, left record and source, right ones.
_SHAPE = ((CandidatePair, "p"), (SourceRecord, "l"), (Source, "ls"), (SourceRecord, "r"), (Source, "rs"))
_built: dict[str, tuple] = {}


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _build() -> tuple:
    pairs, labels = _q(CandidatePair._meta.db_table), _q(Label._meta.db_table)
    records, sources = _q(SourceRecord._meta.db_table), _q(Source._meta.db_table)
    # Open, not held by someone else, not answered by this curator: claimable_by.
    claimable = (f"c.status = %s AND c.entity_type_id = %s AND c.id NOT IN "
                 f"(SELECT u.pair_id FROM {labels} u WHERE u.curator_id = %s AND u.revoked_at IS NULL)")
    lock = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    held = (f"SELECT c.id FROM {pairs} c WHERE {claimable} AND c.claimed_by_id = %s AND c.claimed_until > %s "
            f"ORDER BY c.priority, c.id LIMIT 1")
    free = (f"SELECT c.id FROM {pairs} c WHERE {claimable} AND "
            f"(c.claimed_by_id IS NULL OR c.claimed_until <= %s OR c.claimed_by_id = %s) "
            f"ORDER BY c.priority, c.id LIMIT 1{lock}")
    select, shape = _shape(_SHAPE)
    pick = (f"SELECT {', '.join(select)} FROM {pairs} p "
            f"JOIN {records} l ON l.id = p.left_id JOIN {sources} ls ON ls.id = l.source_id "
            f"JOIN {records} r ON r.id = p.right_id JOIN {sources} rs ON rs.id = r.source_id "
            f"WHERE p.id = COALESCE(({held}), ({free}))")
    claim = (f"UPDATE {pairs} SET claimed_by_id = %s, claimed_until = %s WHERE id = %s AND "
             f"status = %s AND (claimed_by_id IS NULL OR claimed_until <= %s OR claimed_by_id = %s) AND id NOT IN "
             f"(SELECT u.pair_id FROM {labels} u WHERE u.curator_id = %s AND u.revoked_at IS NULL)")
    return pick, claim, shape


def _shape(models: tuple, leave_out: dict | None = None) -> tuple[list[str], list]:
    """The select list of some models' columns (but those left out, per alias: deferred on the instance) and, per
    model, what turns a row's slice into an instance."""
    select, shape = [], []
    for model, alias in models:
        fields = [f for f in model._meta.concrete_fields if f.name not in (leave_out or {}).get(alias, ())]
        select += [f"{alias}.{_q(f.column)}" for f in fields]
        converters = []  # (position, column, converters) for the fields whose database value needs converting
        for i, f in enumerate(fields):
            col = f.get_col(alias)
            found = connection.ops.get_db_converters(col) + f.get_db_converters(connection)
            if found:
                converters.append((i, col, found))
        shape.append((model, [f.attname for f in fields], converters))
    return select, shape


def _instances(row, shape: list) -> list:
    objects, start = [], 0
    for model, attnames, converters in shape:
        values = list(row[start:start + len(attnames)])
        start += len(attnames)
        for i, col, found in converters:
            for converter in found:
                values[i] = converter(values[i], col, connection)
        objects.append(model.from_db(connection.alias, attnames, values))
    return objects


def _learning_statement() -> tuple:
    entity_types, models, jobs = _q(EntityType._meta.db_table), _q(MatchModel._meta.db_table), _q(Job._meta.db_table)
    pairs, labels = _q(CandidatePair._meta.db_table), _q(Label._meta.db_table)
    select, shape = _shape(((EntityType, "et"),))
    live = (f"SELECT 1 FROM {jobs} jb WHERE jb.entity_type_id = et.id AND jb.kind = %s AND "
            f"(jb.status = %s OR (jb.status = %s AND jb.heartbeat_at > %s))")
    # Answers since the model: the decision only asks whether there are retrain_every of them, so on PostgreSQL the
    # count stops there. While a training runs, answers keep coming (hundreds in one training under the load probe) and every
    # answer would otherwise count all of them again. SQLite cannot limit by an outer column: it counts them all.
    since = (f"SELECT 1 FROM {labels} lb JOIN {pairs} cp ON cp.id = lb.pair_id WHERE lb.revoked_at IS NULL "
             f"AND cp.entity_type_id = et.id AND lb.created_at > COALESCE(j.started_at, m.created_at)")
    if connection.vendor == "postgresql":
        since += " LIMIT et.retrain_every"
    sql = (f"SELECT {', '.join(select)}, m.match_count, m.distinct_count, COALESCE(j.started_at, m.created_at), "
           f"j.finished_at, (SELECT COUNT(*) FROM ({since}) s), "
           f"EXISTS(SELECT 1 FROM {pairs} op WHERE op.entity_type_id = et.id AND op.status = %s LIMIT 1 OFFSET %s), "
           f"EXISTS({live}), EXISTS({live}) "
           f"FROM {entity_types} et "
           f"LEFT JOIN {models} m ON m.id = (SELECT mm.id FROM {models} mm WHERE mm.entity_type_id = et.id "
           f"AND mm.active = %s ORDER BY mm.version DESC LIMIT 1) "
           f"LEFT JOIN {jobs} j ON j.id = m.job_id WHERE et.id = %s")
    return sql, shape


def learning_row(*, entity_type_id: int, open_needed: int, stale_before: datetime) -> tuple:
    """selectors.learning_state's one read: (entity type, model matches, model distincts, trained from, trained until,
    answers since (on PostgreSQL at most retrain_every), enough open pairs, training live, filling live); DoesNotExist
    for an unknown entity type."""
    built = _built.get(f"learning-{connection.vendor}")
    if built is None:
        built = _built[f"learning-{connection.vendor}"] = _learning_statement()
    sql, shape = built
    stale = connection.ops.adapt_datetimefield_value(stale_before)
    queued, running = Job.Status.QUEUED.value, Job.Status.RUNNING.value
    params = [CandidatePair.Status.OPEN.value, open_needed - 1, Job.Kind.TRAIN.value, queued, running, stale,
              Job.Kind.PREPARE_QUEUE.value, queued, running, stale, True, entity_type_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise EntityType.DoesNotExist(f"No entity type {entity_type_id}.")
    width = len(shape[0][1])
    (entity_type,) = _instances(row, shape)
    matches, distincts, trained_from, trained_until, since, enough_open, training, filling = row[width:]
    return (entity_type, matches, distincts, _datetime(trained_from), _datetime(trained_until), since, bool(enough_open),
            bool(training), bool(filling))


def _datetime(value) -> datetime | None:
    """A timestamp read without the ORM, aware: PostgreSQL gives it so, SQLite naive (a column) or as text (an expression)."""
    parsed = parse_datetime(value) if isinstance(value, str) else value
    return parsed if parsed is None or timezone.is_aware(parsed) else timezone.make_aware(parsed, dt_timezone.utc)


def _release_statement() -> str:
    pairs, labels = _q(CandidatePair._meta.db_table), _q(Label._meta.db_table)
    answers = f"SELECT 1 FROM {labels} u WHERE u.pair_id = {pairs}.id AND u.revoked_at IS NULL"
    return (f"UPDATE {pairs} SET claimed_by_id = NULL, claimed_until = NULL, status = CASE "
            f"WHEN answers_needed > (SELECT COUNT(*) FROM {labels} u WHERE u.pair_id = {pairs}.id AND u.revoked_at IS NULL) "
            f"THEN %s WHEN EXISTS({answers} AND u.answer = %s) AND EXISTS({answers} AND u.answer = %s) THEN %s ELSE %s END "
            f"WHERE id = %s AND claimed_by_id = %s AND claimed_until > %s AND status = %s")


def release_answered_pair(*, pair_id: int, curator_id: int, now: datetime) -> bool:
    """Release a pair the curator holds and settle its status from its active answers (selectors.settled_status);
    False when the curator did not hold it."""
    sql = _built.get(f"release-{connection.vendor}")
    if sql is None:
        sql = _built[f"release-{connection.vendor}"] = _release_statement()
    status = CandidatePair.Status
    with connection.cursor() as cursor:
        cursor.execute(sql, [status.OPEN.value, Label.Answer.MATCH.value, Label.Answer.DISTINCT.value, status.DISPUTED.value,
                             status.DONE.value, pair_id, curator_id, connection.ops.adapt_datetimefield_value(now),
                             status.OPEN.value])
        return cursor.rowcount == 1


def _statements() -> tuple:
    built = _built.get(connection.vendor)
    if built is None:
        built = _built[connection.vendor] = _build()
    return built


def pick_pair(*, entity_type_id: int, curator_id: int, now: datetime) -> CandidatePair | None:
    """The pair next_pair_to_claim picks, with both records and their sources loaded (locked on PostgreSQL)."""
    pick, _, shape = _statements()
    at = connection.ops.adapt_datetimefield_value(now)
    status = CandidatePair.Status.OPEN.value
    params = [status, entity_type_id, curator_id, curator_id, at, status, entity_type_id, curator_id, at, curator_id]
    with connection.cursor() as cursor:
        cursor.execute(pick, params)
        row = cursor.fetchone()
    if row is None:
        return None
    pair, left, left_source, right, right_source = _instances(row, shape)
    left.source, right.source = left_source, right_source
    pair.left, pair.right = left, right
    return pair


def claim_pair(*, pair_id: int, curator_id: int, now: datetime, until: datetime) -> bool:
    """Compare-and-set: hand the pair to the curator if it is still claimable by them; False when a race was lost."""
    _, claim, _ = _statements()
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(claim, [curator_id, connection.ops.adapt_datetimefield_value(until), pair_id,
                               CandidatePair.Status.OPEN.value, at, curator_id, curator_id])
        return cursor.rowcount == 1


def _pair_statement() -> tuple:
    """A pair by id with what answering it shows: both records and sources, the entity type, the proposing model."""
    from mastering.selectors import MODEL_HEAVY_FIELDS

    pairs, records, sources = _q(CandidatePair._meta.db_table), _q(SourceRecord._meta.db_table), _q(Source._meta.db_table)
    entity_types, models = _q(EntityType._meta.db_table), _q(MatchModel._meta.db_table)
    select, shape = _shape(_SHAPE + ((EntityType, "et"), (MatchModel, "m")), {"m": MODEL_HEAVY_FIELDS})
    sql = (f"SELECT {', '.join(select)} FROM {pairs} p "
           f"JOIN {records} l ON l.id = p.left_id JOIN {sources} ls ON ls.id = l.source_id "
           f"JOIN {records} r ON r.id = p.right_id JOIN {sources} rs ON rs.id = r.source_id "
           f"JOIN {entity_types} et ON et.id = p.entity_type_id LEFT JOIN {models} m ON m.id = p.model_id WHERE p.id = %s")
    return sql, shape


def pair_with_card(*, pair_id: int) -> CandidatePair | None:
    """The pair with its records, their sources, its entity type and its model (without the model's blobs): what the
    ORM's select_related of them compiles on every answer (2-3 ms of Python), written once."""
    built = _built.get(f"pair-{connection.vendor}")
    if built is None:
        built = _built[f"pair-{connection.vendor}"] = _pair_statement()
    sql, shape = built
    with connection.cursor() as cursor:
        cursor.execute(sql, [pair_id])
        row = cursor.fetchone()
    if row is None:
        return None
    pair, left, left_source, right, right_source, entity_type, model = _instances(row, shape)
    left.source, right.source = left_source, right_source
    pair.left, pair.right, pair.entity_type = left, right, entity_type
    pair.model = model if model.pk is not None else None  # LEFT JOIN: a pair no model proposed
    return pair

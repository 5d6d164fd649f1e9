"""What every way in (table, stream) checks first: the source takes data, its fields' rules, its lock."""

from django.db import OperationalError, connection, transaction
from django.db.models import Model, QuerySet

from mastering.ingest.validation import FieldSpec, Validator
from mastering.models import IngestBatch, Source, SourceField
from steward.errors import Busy, ServiceError


class SourceInactive(ServiceError):
    pass


def check_active(source: Source) -> None:
    if not source.active:
        raise SourceInactive(f"The source {source.name} is inactive and refuses new data.")


def field_specs(source: Source, *, fields: list[SourceField] | None = None) -> list[FieldSpec]:
    """What ingest checks each of a source's fields against: type, required, longest value (fields: read already)."""
    return [FieldSpec(f.name, f.type, f.required, f.longest_value) for f in (source.fields.all() if fields is None else fields)]


def source_validator(source: Source, *, fields: list[SourceField] | None = None) -> Validator:
    """A validator with the source's fields and the values it treats as missing; every way in uses one."""
    return Validator(field_specs(source, fields=fields), source.key_field, missing_values=source.missing_values)


# PostgreSQL's SQLSTATE when a lock_timeout runs out.
LOCK_NOT_AVAILABLE = "55P03"


def lock_source(source: Source, *, wait_seconds: float | None = None, savepoint: bool = True) -> None:
    """One batch at a time per source: concurrent batches queue here instead of racing.

    With wait_seconds (PostgreSQL), give up after that long with Busy rather than wait for a long batch. A caller
    whose own transaction or savepoint ends with the timeout passes savepoint=False, saves two round trips, and
    answers the OperationalError (lock_not_available) with source_busy once it is rolled back (stream_record).
    """
    if wait_seconds is None or connection.vendor != "postgresql":
        Source.objects.select_for_update().filter(pk=source.pk).first()
        return
    if not savepoint:
        _wait_for_lock(source, wait_seconds)
        return
    try:
        with transaction.atomic():  # a savepoint: a timeout leaves the caller's transaction usable
            _wait_for_lock(source, wait_seconds)
    except OperationalError:
        raise source_busy(source) from None


def _wait_for_lock(source: Source, wait_seconds: float, then: QuerySet | None = None) -> list[Model]:
    # One round trip: remember the caller's lock_timeout, bound the wait, take the row lock, put the timeout back,
    # and (then) read what the lock guards. The read is a statement of its own, so it sees what the lock's last
    # holder committed (each statement of a READ COMMITTED transaction reads a fresh snapshot).
    sql, params = "", []
    if then is not None:
        compiler = then.query.get_compiler(using=connection.alias)
        sql, params = compiler.as_sql()
        sql = "; " + sql
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('steward.lock_timeout_before', current_setting('lock_timeout'), true);"
            " SELECT set_config('lock_timeout', %s, true);"
            " SELECT id FROM mastering_source WHERE id = %s FOR UPDATE;"
            " SELECT set_config('lock_timeout', current_setting('steward.lock_timeout_before'), true)" + sql,
            [f"{round(wait_seconds * 1000)}ms", source.pk, *params])
        if then is None:
            return []
        while cursor.nextset():  # to the last statement's rows
            pass
        rows = cursor.fetchall()
    columns = [expression for expression, _, _ in compiler.select]
    converters = compiler.get_converters(columns)
    if converters:
        rows = compiler.apply_converters(rows, converters)
    names = [expression.target.attname for expression in columns]
    return [then.model.from_db(connection.alias, names, row) for row in rows]


def lock_source_and_read(source: Source, queryset: QuerySet, *, wait_seconds: float) -> list[Model]:
    """lock_source(savepoint=False) and then the rows of `queryset` (plain fields only), in one round trip on
    PostgreSQL: the streaming path takes its source's lock and reads the record it replaces."""
    if connection.vendor != "postgresql":
        lock_source(source, wait_seconds=wait_seconds, savepoint=False)
        return list(queryset)
    return _wait_for_lock(source, wait_seconds, then=queryset)


def source_busy(source: Source) -> Busy:
    """Busy for a write that gave up waiting for the source's lock, saying what holds it (read after the rollback)."""
    running = IngestBatch.objects.filter(source=source, status=IngestBatch.Status.RUNNING).order_by("pk").first()
    doing = f"batch #{running.pk} is being written to it" if running else "another write holds it"
    return Busy(f"The source {source.name} is busy: {doing}. Try again in a few seconds.")

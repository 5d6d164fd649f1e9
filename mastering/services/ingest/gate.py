"""What every way in (table, stream) checks first: the source takes data, its fields' rules, its lock."""

from django.db import OperationalError, connection, transaction

from mastering.ingest.validation import FieldSpec, Validator
from mastering.models import IngestBatch, Source
from steward.errors import Busy, ServiceError


class SourceInactive(ServiceError):
    pass


def check_active(source: Source) -> None:
    if not source.active:
        raise SourceInactive(f"The source {source.name} is inactive and refuses new data.")


def field_specs(source: Source) -> list[FieldSpec]:
    """What ingest checks each of a source's fields against: type, required, longest value."""
    return [FieldSpec(f.name, f.type, f.required, f.longest_value) for f in source.fields.all()]


def source_validator(source: Source) -> Validator:
    """A validator with the source's fields and the values it treats as missing; every way in uses one."""
    return Validator(field_specs(source), source.key_field, missing_values=source.missing_values)


def lock_source(source: Source, *, wait_seconds: float | None = None) -> None:
    """One batch at a time per source: concurrent batches queue here instead of racing.

    With wait_seconds (PostgreSQL), give up after that long with Busy rather than wait for a long batch.
    """
    if wait_seconds is None or connection.vendor != "postgresql":
        Source.objects.select_for_update().filter(pk=source.pk).first()
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:  # a savepoint: a timeout leaves the caller's transaction usable
            cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                           [f"{round(wait_seconds * 1000)}ms"])
            before = cursor.fetchone()[0]
            Source.objects.select_for_update().filter(pk=source.pk).first()
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    except OperationalError:
        running = IngestBatch.objects.filter(source=source, status=IngestBatch.Status.RUNNING).order_by("pk").first()
        doing = f"batch #{running.pk} is being written to it" if running else "another write holds it"
        raise Busy(f"The source {source.name} is busy: {doing}. Try again in a few seconds.") from None

from django.db.models import Count, Q, QuerySet

from mastering.models import IngestBatch, Source, SourceRecord, SourceRecordVersion


def list_sources() -> QuerySet[Source]:
    """Sources with their fields and live record counts."""
    return Source.objects.prefetch_related("fields").annotate(
        record_count=Count("records", filter=Q(records__retired=False))
    ).order_by("name")


def get_source(*, slug: str) -> Source:
    return Source.objects.prefetch_related("fields").get(slug=slug)


def list_records(*, source: Source) -> QuerySet[SourceRecord]:
    return SourceRecord.objects.filter(source=source).order_by("key")


def get_record(*, source: Source, key: str) -> SourceRecord:
    return SourceRecord.objects.select_related("source", "first_batch", "changed_batch", "last_seen_batch").get(
        source=source, key=key
    )


def list_batches(*, source: Source | None = None) -> QuerySet[IngestBatch]:
    batches = IngestBatch.objects.select_related("source", "user")
    return batches.filter(source=source) if source is not None else batches


def record_history(*, record: SourceRecord) -> list[dict]:
    """Every version of a record, newest first, each with what changed from the one before."""
    versions: list[dict] = [
        {"version": record.version, "data": record.data, "retired": record.retired, "batch": record.changed_batch,
         "at": record.updated_at, "current": True}
    ]
    for old in SourceRecordVersion.objects.filter(record=record).select_related("batch__user").order_by("-version"):
        versions.append({"version": old.version, "data": old.data, "retired": old.retired, "batch": old.batch,
                         "at": old.created_at, "current": False})
    for newer, older in zip(versions, versions[1:] + [None]):
        before = older["data"] if older else {}
        newer["changes"] = [
            {"field": name, "before": before.get(name), "after": newer["data"].get(name)}
            for name in sorted(set(before) | set(newer["data"]))
            if before.get(name) != newer["data"].get(name)
        ]
        if older and older["retired"] != newer["retired"]:
            newer["changes"].append({"field": "(retired)", "before": older["retired"], "after": newer["retired"]})
    return versions

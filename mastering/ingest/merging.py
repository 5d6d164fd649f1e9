"""Write validated rows into SourceRecord, keeping every superseded version.

Both writers take a table chunk by chunk (add) and then close the batch (finish), inside the
transaction that holds the source's lock. New keys become version 1; a changed hash (or a
retired record coming back) archives the current version into SourceRecordVersion and bumps
the version; an unchanged row is not written at all, the batch records the run of ids it saw
(BatchSighting). Snapshot mode retires live records the batch did not mention.

A cell the table leaves out (a column it lacks, a key a JSON object omits) is not an empty value: an
existing record keeps its current value there, in append and snapshot mode alike (keep_absent_values),
and the hash is that of the whole record, so a row that changes nothing makes no version.
"""

from django.db import connection

from mastering.ingest.merge_parts import MergeCounts, Sightings, keep_absent_values
from mastering.ingest.orm_merger import OrmMerger
from mastering.ingest.postgres_merger import PostgresMerger
from mastering.models import IngestBatch

__all__ = ["MergeCounts", "OrmMerger", "PostgresMerger", "Sightings", "keep_absent_values", "open_merger"]


def open_merger(batch: IngestBatch, types: dict[str, str]) -> "PostgresMerger | OrmMerger":
    """The fastest writer the database allows, as a context: add chunks, finish, then leave.

    Use inside a transaction holding the source's lock.
    """
    if connection.vendor == "postgresql":
        return PostgresMerger(batch, types)
    return OrmMerger(batch, types)

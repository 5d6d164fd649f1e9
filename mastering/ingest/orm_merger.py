"""The portable writer (SQLite, the embedded default): compares hashes in Python, writes in bulk."""

import numpy as np
from django.utils import timezone

from mastering.ingest.documents import record_json
from mastering.ingest.merge_parts import MergeCounts, Sightings, keep_absent_values
from mastering.ingest.validation import ValidatedChunk
from mastering.models import IngestBatch, SourceRecord, SourceRecordVersion

SQLITE_VARIABLES = 900


def _slices(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class OrmMerger:
    """Portable writer (SQLite, the embedded default): compares hashes in Python, writes in bulk."""

    def __init__(self, batch: IngestBatch, types: dict[str, str]):
        self.batch = batch
        self.types = types
        self.now = timezone.now()
        self.counts = MergeCounts()
        self.sightings = Sightings()
        self.mentioned_keys: set[str] = set()

    def add(self, chunk: ValidatedChunk) -> None:
        keys = chunk.keys.to_pylist()
        self.mentioned_keys.update(keys)
        existing = self._existing(keys)
        if chunk.absent:
            known = np.flatnonzero(np.fromiter(map(existing.__contains__, keys), dtype=bool, count=len(keys)))
            chunk = keep_absent_values(chunk, known, [existing[keys[i]].data for i in known], self.types)
        new, changed, archived, seen_ids = [], [], [], []
        for key, values, content_hash, row in zip(keys, chunk.records(), chunk.hashes.to_pylist(), chunk.rows.tolist()):
            record = existing.get(key)
            if record is None:
                new.append(
                    SourceRecord(
                        source_id=self.batch.source_id, key=key, data=record_json(values, self.types),
                        content_hash=content_hash, version=1, first_batch=self.batch, changed_batch=self.batch,
                        file_row=row, created_at=self.now, updated_at=self.now,
                    )
                )
            elif record.content_hash != content_hash or record.retired:
                archived.append(SourceRecordVersion(**archived_version(record)))
                record.data = record_json(values, self.types)
                record.content_hash = content_hash
                record.version += 1
                record.retired = False
                record.changed_batch = self.batch
                record.file_row = row
                record.updated_at = self.now
                changed.append(record)
            else:
                seen_ids.append(record.pk)
        SourceRecord.objects.bulk_create(new, batch_size=500)
        SourceRecordVersion.objects.bulk_create(archived, batch_size=500)
        SourceRecord.objects.bulk_update(
            changed, ["data", "content_hash", "version", "retired", "changed_batch", "file_row", "updated_at"], batch_size=500
        )
        self.sightings.add(np.array(seen_ids, dtype=np.int64))
        self.counts.created += len(new)
        self.counts.updated += len(changed)
        self.counts.unchanged += len(seen_ids)

    def __enter__(self) -> "OrmMerger":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def finish(self, *, snapshot: bool, present_keys: set[str]) -> MergeCounts:
        """present_keys: keys the table mentioned besides the merged ones (rejected rows); never retired."""
        self.sightings.save(self.batch)
        if snapshot:
            self._retire_absent(present_keys | self.mentioned_keys)
        return self.counts

    def _existing(self, keys: list[str]) -> dict[str, SourceRecord]:
        found: dict[str, SourceRecord] = {}
        for part in _slices(keys, SQLITE_VARIABLES):
            for record in SourceRecord.objects.filter(source_id=self.batch.source_id, key__in=part):
                found[record.key] = record
        return found

    def _retire_absent(self, present_keys: set[str]) -> None:
        live = SourceRecord.objects.filter(source_id=self.batch.source_id, retired=False)
        absent = [record for record in live.iterator(chunk_size=2000) if record.key not in present_keys]
        SourceRecordVersion.objects.bulk_create([SourceRecordVersion(**archived_version(record)) for record in absent],
                                                batch_size=500)
        for record in absent:
            record.retired = True
            record.version += 1
            record.changed_batch = self.batch
            record.file_row = None  # a retirement is the absence of a row
            record.updated_at = self.now
        SourceRecord.objects.bulk_update(absent, ["retired", "version", "changed_batch", "file_row", "updated_at"], batch_size=500)
        self.counts.retired = len(absent)


def archived_version(record: SourceRecord) -> dict:
    """The fields of the SourceRecordVersion that keeps a record's current version when a new one replaces it."""
    return {"record_id": record.pk, "version": record.version, "data": record.data, "content_hash": record.content_hash,
            "retired": record.retired, "batch_id": record.changed_batch_id, "file_row": record.file_row,
            "created_at": record.updated_at}

"""What both writers share: their counts, the runs of ids a batch saw unchanged, and the values a table left out."""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mastering.ingest.parsing import TableError
from mastering.ingest.validation import ValidatedChunk, canonical_column, content_hashes
from mastering.models import BatchSighting, IngestBatch


@dataclass
class MergeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    timings: dict[str, float] = field(default_factory=dict)


class Sightings:
    """Ids of the records a batch saw unchanged, stored as runs of consecutive ids."""

    def __init__(self):
        self.parts: list[np.ndarray] = []

    def add(self, ids: np.ndarray) -> None:
        if len(ids):
            self.parts.append(np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        return np.sort(np.concatenate(self.parts)) if self.parts else np.zeros(0, dtype=np.int64)

    def save(self, batch: IngestBatch) -> None:
        ids = self.ids()
        if not len(ids):
            return
        breaks = np.flatnonzero(np.diff(ids) != 1)
        firsts = np.concatenate([ids[:1], ids[breaks + 1]]).tolist()
        lasts = np.concatenate([ids[breaks], ids[-1:]]).tolist()
        BatchSighting.objects.bulk_create(
            [BatchSighting(batch=batch, first_record_id=first, last_record_id=last) for first, last in zip(firsts, lasts)],
            batch_size=1000,
        )


def keep_absent_values(chunk: ValidatedChunk, existing: np.ndarray, current: list[dict],
                       types: dict[str, str]) -> ValidatedChunk:
    """The chunk with the cells its table left out filled from the current data of the records that exist.

    existing: ascending positions of the rows whose record exists; current: those records' stored data, in the
    same order. Hashes are recomputed (and documents dropped, to be rebuilt), so that a row equal to its record
    once filled is unchanged. A kept value that no longer fits its field's type (the field was retyped after
    it was stored) refuses the table: it can neither be stored as the type now says nor silently dropped.
    """
    if not chunk.absent or not len(existing):
        return chunk
    columns = {name: chunk.values[name].combine_chunks() for name in chunk.values.column_names}
    filled = False
    for name, left_out in chunk.absent.items():
        which = left_out[existing]  # of the existing records, those whose row leaves this field out
        if name not in columns or not which.any():
            continue
        positions = existing[which]
        stored = [_stored_text(data.get(name)) for data, take in zip(current, which) if take]
        canonical, bad, reason = canonical_column(pa.array(stored, pa.string()), types.get(name, "string"))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise TableError(
                f"Record {chunk.keys[int(positions[first])].as_py()} keeps its {name} ({stored[first]!r}), which this "
                f"table leaves out, but the value {reason} as the field now requires. Send the {name} column too.")
        mask = np.zeros(len(chunk), dtype=bool)
        mask[positions] = True
        columns[name] = pc.replace_with_mask(columns[name], pa.array(mask), canonical.cast(columns[name].type))
        filled = True
    if not filled:
        return chunk
    values = pa.table(columns)
    return dataclasses.replace(chunk, values=values, hashes=content_hashes(values), documents=None, absent={})


def _stored_text(value: object) -> str | None:
    """A value of a record's stored JSON (record_json) as the canonical text it was made from."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

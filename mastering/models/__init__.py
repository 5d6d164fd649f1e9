from mastering.models.sources import IngestBatch, Source, SourceField, SourceRecord, SourceRecordVersion

__all__ = ["IngestBatch", "Source", "SourceField", "SourceRecord", "SourceRecordVersion"]

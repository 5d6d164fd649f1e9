from mastering.models.matching import Attribute, AttributeMapping, EntityType, Job, MatchModel
from mastering.models.sources import IngestBatch, Source, SourceField, SourceRecord, SourceRecordVersion

__all__ = [
    "Attribute",
    "AttributeMapping",
    "EntityType",
    "IngestBatch",
    "Job",
    "MatchModel",
    "Source",
    "SourceField",
    "SourceRecord",
    "SourceRecordVersion",
]

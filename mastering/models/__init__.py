from mastering.models.entities import BlockKey, ClusterEdit, Entity, JobChunk, Membership, RecordBlockKey, RunChange, RunRecord, ScoredPair, ValueOverride
from mastering.models.matching import Attribute, AttributeMapping, EntityType, Job, JobHold, MatchModel
from mastering.models.sources import BatchSighting, IngestBatch, Source, SourceField, SourceRecord, SourceRecordVersion

__all__ = [
    "Attribute",
    "BatchSighting",
    "AttributeMapping",
    "BlockKey",
    "ClusterEdit",
    "Entity",
    "EntityType",
    "IngestBatch",
    "JobChunk",
    "JobHold",
    "Job",
    "MatchModel",
    "Membership",
    "RecordBlockKey",
    "RunChange",
    "RunRecord",
    "ScoredPair",
    "Source",
    "SourceField",
    "SourceRecord",
    "SourceRecordVersion",
    "ValueOverride",
]

"""Every write to mastering data goes through these functions."""

from mastering.services.entity_types import create_entity_type, infer_attributes, propose_mappings, set_mappings
from mastering.services.ingest import (
    new_upload_path,
    receive_stored_table,
    receive_table,
    remove_abandoned_uploads,
    run_ingest,
    source_validator,
    upsert_record,
)
from mastering.services.jobs import cancel_job, run_job, start_job, sweep_jobs
from mastering.services.sources import clean_missing_values, create_source, propose_fields, update_source

__all__ = [
    "cancel_job",
    "clean_missing_values",
    "create_entity_type",
    "create_source",
    "infer_attributes",
    "new_upload_path",
    "propose_fields",
    "propose_mappings",
    "receive_stored_table",
    "receive_table",
    "remove_abandoned_uploads",
    "run_ingest",
    "run_job",
    "set_mappings",
    "source_validator",
    "start_job",
    "sweep_jobs",
    "update_source",
    "upsert_record",
]

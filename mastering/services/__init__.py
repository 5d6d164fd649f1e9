"""Every write to mastering data goes through these functions."""

from mastering.services.entity_types import (
    create_entity_type,
    delete_entity_type,
    infer_attributes,
    map_field,
    propose_mappings,
    set_mappings,
    unmap_fields,
    update_entity_type,
)
from mastering.services.ingest import (
    can_resend,
    new_upload_path,
    receive_stored_table,
    receive_table,
    remove_abandoned_uploads,
    resend_good_rows,
    run_ingest,
    source_validator,
    stream_record,
    upsert_record,
)
from mastering.services.jobs import cancel_job, run_job, start_job, sweep_jobs
from mastering.services.sources import clean_missing_values, create_source, delete_source, propose_fields, update_source

__all__ = [
    "can_resend",
    "cancel_job",
    "clean_missing_values",
    "create_entity_type",
    "create_source",
    "delete_entity_type",
    "delete_source",
    "infer_attributes",
    "map_field",
    "new_upload_path",
    "propose_fields",
    "propose_mappings",
    "receive_stored_table",
    "receive_table",
    "remove_abandoned_uploads",
    "resend_good_rows",
    "run_ingest",
    "run_job",
    "set_mappings",
    "source_validator",
    "start_job",
    "unmap_fields",
    "update_entity_type",
    "sweep_jobs",
    "stream_record",
    "update_source",
    "upsert_record",
]

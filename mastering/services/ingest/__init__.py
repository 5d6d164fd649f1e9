"""Tables and single records into a source: one service underneath page, API, command and stream.

receiving: a table is stored and handed to an ingest job; running: the job checks and writes it;
checking: the row checks, chunk by chunk; streaming: one record, inside its request; gate: what both check first.
"""

from mastering.services.ingest.gate import SourceInactive, field_specs, source_validator
from mastering.services.ingest.receiving import (
    new_upload_path,
    receive_stored_table,
    receive_table,
    remove_abandoned_uploads,
    run_ingest,
    upload_folder,
)
from mastering.services.ingest.resending import CannotResend, can_resend, resend_good_rows
from mastering.services.ingest.running import TableRejected, end_ingest_job, run_ingest_job
from mastering.services.ingest.streaming import stream_record, upsert_record

__all__ = [
    "CannotResend",
    "can_resend",
    "resend_good_rows",
    "SourceInactive",
    "TableRejected",
    "end_ingest_job",
    "field_specs",
    "new_upload_path",
    "receive_stored_table",
    "receive_table",
    "remove_abandoned_uploads",
    "run_ingest",
    "run_ingest_job",
    "source_validator",
    "upload_folder",
    "stream_record",
    "upsert_record",
]

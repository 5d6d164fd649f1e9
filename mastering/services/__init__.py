"""Every write to mastering data goes through these functions."""

from mastering.services.ingest import new_upload_path, receive_stored_table, receive_table, run_ingest, upsert_record
from mastering.services.sources import create_source, propose_fields, update_source

__all__ = [
    "new_upload_path",
    "receive_stored_table",
    "create_source", "propose_fields", "receive_table", "run_ingest", "update_source", "upsert_record"]

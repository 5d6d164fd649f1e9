"""Provenance people can follow: where each golden value came from, why each record is in its entity, why two records
are together, and the lineage graph of a value, entity, record, batch or job. Reads only; pages and API share it."""

"""Reading, checking and writing tables of source records.

parsing     bytes on disk → chunks of text cells (encoding, delimiter, CSV/JSON/JSON lines)
validation  text cells → canonical values per field type, with row-level problems
staging     validated chunks parked on disk until the whole table has been checked
merging     staged rows → SourceRecord upserts and versions, set-based on PostgreSQL
"""

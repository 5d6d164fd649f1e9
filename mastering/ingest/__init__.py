"""Reading, checking and writing tables of source records.

parsing     bytes on disk → chunks of text cells (encoding, delimiter, CSV/JSON/JSON lines)
validation  text cells → canonical values per field type, with row-level problems
staging     validated chunks parked (a PostgreSQL temporary table, or files) until the whole table is checked
merging     staged rows → SourceRecord upserts and versions, set-based on PostgreSQL
"""

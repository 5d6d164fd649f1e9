"""Pure rules of a mastering run (no database): curator edits, persistent ids, survivorship."""

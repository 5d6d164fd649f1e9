"""Look at a table before ingesting it: column matching, first rows and problems."""

from dataclasses import dataclass, field
from pathlib import Path

from mastering.ingest.parsing import TableError, inspect_file, read_chunks
from mastering.ingest.validation import FieldSpec, Validator

PREVIEW_ROWS = 20
CHECK_ROWS = 200_000
SHOWN_PROBLEMS = 200


@dataclass
class Preview:
    file_name: str
    size: int
    columns: list[str] = field(default_factory=list)
    matching: list[dict] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    problem_count: int = 0
    rows_checked: int = 0
    complete: bool = True
    warnings: list[str] = field(default_factory=list)
    error: str = ""


def preview_table(*, validator: Validator, path: Path, file_name: str) -> Preview:
    """Dry-run the checks ingest will make (with a fresh validator for the source), on the whole table or its first CHECK_ROWS rows."""
    fields, key_field = validator.fields, validator.key_field
    preview = Preview(file_name=file_name, size=path.stat().st_size)
    try:
        table = inspect_file(path, file_name)
        preview.warnings.extend(table.warnings)
        for chunk in read_chunks(table, chunk_rows=20_000):
            if not preview.columns and len(chunk.frame.columns):  # a JSON chunk of refused items has none
                preview.columns = list(chunk.frame.columns)
                preview.matching = _matching(fields, key_field, preview.columns)
                preview.rows = chunk.frame.head(PREVIEW_ROWS).astype(str).values.tolist()
                validator.check_columns(preview.columns)
            _, problems = validator.validate(chunk.frame, chunk.rows, chunk.absent)
            problems = chunk.problems + problems
            preview.problem_count += len(problems)
            preview.problems.extend(problems[: max(0, SHOWN_PROBLEMS - len(preview.problems))])
            preview.rows_checked += len(chunk.frame)
            if preview.rows_checked >= CHECK_ROWS:
                preview.complete = False
                break
        preview.warnings.extend(validator.warnings)
        if preview.rows_checked == 0 and not preview.problems:
            raise TableError("The file has a header but no rows.")
    except TableError as exc:
        preview.error = exc.message
    preview.problems.sort(key=lambda p: (p["row"], p["column"]))
    return preview


def _matching(fields: list[FieldSpec], key_field: str, columns: list[str]) -> list[dict]:
    rows = []
    for spec in fields:
        state = "matched" if spec.name in columns else ("missing" if spec.required or spec.name == key_field else "absent")
        rows.append({"field": spec.name, "type": spec.type, "required": spec.required, "key": spec.name == key_field,
                     "column": spec.name if spec.name in columns else "", "state": state})
    known = {spec.name for spec in fields}
    rows.extend({"field": "", "type": "", "required": False, "key": False, "column": c, "state": "ignored"}
                for c in columns if c not in known)
    return rows

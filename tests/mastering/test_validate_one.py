"""Validator.validate_one (a streamed record) gives what validate() gives for a one-row table: problems, values, hash."""

import random

import pandas as pd
import pytest

from mastering.ingest.validation import FieldSpec, Validator

TYPES = ["string", "integer", "decimal", "boolean", "date", "datetime", "email", "phone"]
VALUES = ["", " ", "NA", "na ", "12", " 0012 ", "-3", "1e400", "nan", "inf", "12.5", "abc", "yes", "N", "2024-01-31",
          "31/01/2024", "2024-01-31T09:30:00+02:00", "a@b.co", "+61 2 1234 5678", "x\x00y", "\u3000padded\u3000", "ü" * 300,
          "99999999999999999999", "\x1c1\x1f", "TRUE"]


def _outcome(validator: Validator, run):
    try:
        chunk, problems = run(validator)
    except Exception as exc:  # a table refused whole (a required column left out): both refuse alike
        return str(exc)
    return (problems, chunk.values.to_pylist(), chunk.hashes.to_pylist(), chunk.keys.to_pylist(), list(chunk.rows),
            {name: list(mask) for name, mask in chunk.absent.items()}, validator.warnings, validator.first_row_of_key)


@pytest.mark.parametrize("seed", range(2))
def test_validate_one_matches_a_one_row_table(seed):
    rng = random.Random(seed)
    for _ in range(150):
        fields = [FieldSpec("id", "string", True, rng.choice([5, 255]))] + [
            FieldSpec(f"f{i}", rng.choice(TYPES), rng.random() < 0.3, rng.choice([4, 255])) for i in range(rng.randint(0, 5))]
        missing = rng.choice([(), ("NA", "null")])
        cells = {f.name: rng.choice(VALUES) for f in fields if f.name == "id" or rng.random() < 0.9}
        if rng.random() < 0.2:
            cells["extra"] = "z"
        if rng.random() < 0.1:
            cells["id"] = "k" * 300
        seen = {"dup": 1} if rng.random() < 0.1 else {}
        if seen:
            cells["id"] = "dup"
        table, one = Validator(fields, "id", missing), Validator(fields, "id", missing)
        table.first_row_of_key.update(seen)
        one.first_row_of_key.update(seen)
        frame = pd.DataFrame([cells])
        expected = _outcome(table, lambda v: v.validate(frame, pd.Series([2], index=frame.index)))
        assert _outcome(one, lambda v: v.validate_one(cells, row=2)) == expected, cells

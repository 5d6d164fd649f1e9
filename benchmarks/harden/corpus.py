"""Malformed-input corpus: every odd file sent through every way a table gets in.

    /work/main/.venv/bin/python benchmarks/harden/corpus.py                 # full corpus (~10 min on 2 cores)
    /work/main/.venv/bin/python benchmarks/harden/corpus.py --quick         # 40 files, a minute or two
    /work/main/.venv/bin/python benchmarks/harden/corpus.py --examples 50 --only-hand
    ... --list                                                              # print the corpus, send nothing

Builds at run time, in a temporary folder, about 110 hand-written cases (empty, header only, BOMs,
UTF-16/32, Latin-1, NUL bytes, ragged rows, open quotes, a 200,000-column header, duplicate and
unknown columns, huge cells, bad values of every field type, missing and duplicate keys, JSON that is
not an array, duplicate JSON object keys, nesting, truncation, bad JSON lines, 10,000-digit numbers,
formula-looking cells, a bad row after 55,000 good ones, ...) plus tables generated with hypothesis
(reproducible: derandomized). Each file goes to the API as multipart and as a raw body (text/csv,
application/json or application/x-ndjson after its name), to the upload page (upload, preview,
confirm, batch page) and to the `ingest` command, each all-or-nothing and with partial=true, against
one seeded source with a field of every type, in a throwaway PostgreSQL database (Django creates
test_<name> from DATABASE_URL, default steward_probe_input, and drops it at the end), through
Django's test client in a child process.

Figures (one JSON line): files, requests, server_errors (a 5xx, an exception out of a view or the
command other than CommandError, or a batch left failed), hangs (a request over 10 s; one still
running after --cap seconds, 30 by default, is killed), partial_writes (an all-or-nothing batch that was not
accepted whole but changed records, or was accepted with rejected rows), partial_accounting_errors
(partial mode: created + updated + unchanged + rejected differs from the rows sent, or from the
batch's own `received`), absent_columns_blanked (an accepted append changed a field its table did
not have), and examples of each.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HANG_SECONDS = 10.0
FORK_ABOVE_BYTES = 64 * 1024
SLUG = "probe"
SEEDED_KEYS = [f"k{i}" for i in range(20)]
FIELDS = [
    ("id", "string", True), ("name", "string", True), ("age", "integer", False), ("price", "decimal", False),
    ("born", "date", False), ("seen", "datetime", False), ("active", "boolean", False), ("email", "email", False),
    ("phone", "phone", False), ("notes", "string", False),
]
FIELD_NAMES = [f[0] for f in FIELDS]
PATHS = ["api_multipart", "api_body", "upload_page", "command"]
CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "jsonl": "application/x-ndjson"}


@dataclass
class CorpusFile:
    name: str  # with the extension that says its kind
    data: bytes
    rows: int | None = None  # data rows sent, when that is well defined
    columns: list[str] | None = None  # the columns the table has, when well defined
    origin: str = "hand"
    expect: str = ""  # accept | reject: what an all-or-nothing batch of it must do; empty when either is defensible

    @property
    def kind(self) -> str:
        return self.name.rsplit(".", 1)[-1]


# ---------------------------------------------------------------------------------------------- corpus


def _good(i: int, **over) -> dict:
    row = {"id": f"k{i}", "name": f"Name {i}", "age": str(20 + i), "price": f"{i}.50", "born": "1990-01-02",
           "seen": "2024-05-06T07:08:09", "active": "true", "email": f"p{i}@example.com", "phone": "+44 20 7946 0000",
           "notes": "ok"}
    row.update(over)
    return row


def _csv(rows: list[dict] | list[list], header: list[str] | None = None, *, delimiter: str = ",", newline: str = "\n",
         quoting: int = csv.QUOTE_MINIMAL) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    if rows and isinstance(rows[0], dict):
        header = header or list(rows[0])
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header])
    else:
        writer.writerow(header or [])
        writer.writerows(rows)
    return out.getvalue()


def _json(rows, **kw) -> str:
    return json.dumps(rows, ensure_ascii=False, **kw)


def _jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def hand_cases() -> list[CorpusFile]:
    """The named malformed inputs, each with the rows it sends where that is well defined."""
    u = lambda s: s.encode("utf-8")  # noqa: E731
    two = [_good(1), _good(2)]
    cases: list[CorpusFile] = []

    def add(name: str, data: bytes | str, rows: int | None = None, columns: list[str] | None = None) -> None:
        cases.append(CorpusFile(name, u(data) if isinstance(data, str) else data, rows, columns))

    # empty and almost empty
    for ext in ("csv", "json", "jsonl"):
        add(f"empty.{ext}", b"")
    add("whitespace_only.csv", "  \n\n \r\n")
    add("newlines_only.csv", "\n\n\n\n")
    add("bom_only.csv", codecs.BOM_UTF8)
    add("header_only.csv", "id,name,age\n")
    add("header_only_no_newline.csv", "id,name,age")
    add("header_only_crlf.csv", "id,name,age\r\n")
    add("empty_array.json", "[]")
    add("array_of_empty_object.json", "[{}]", rows=1)
    add("jsonl_blank_lines_only.jsonl", "\n\n\n")
    # byte-order marks and encodings
    add("bom_utf8.csv", codecs.BOM_UTF8 + u(_csv(two)), rows=2, columns=FIELD_NAMES)
    add("bom_utf8.json", codecs.BOM_UTF8 + u(_json(two)), rows=2, columns=FIELD_NAMES)
    add("bom_utf8.jsonl", codecs.BOM_UTF8 + u(_jsonl(two)), rows=2, columns=FIELD_NAMES)
    add("double_bom.csv", codecs.BOM_UTF8 * 2 + u(_csv(two)), rows=2)
    add("utf16le_bom.csv", _csv(two).encode("utf-16"), rows=2, columns=FIELD_NAMES)
    add("utf16be_bom.csv", codecs.BOM_UTF16_BE + _csv(two).encode("utf-16-be"), rows=2, columns=FIELD_NAMES)
    add("utf16le_no_bom.csv", _csv(two).encode("utf-16-le"), rows=2, columns=FIELD_NAMES)
    add("utf16.json", _json(two).encode("utf-16"), rows=2, columns=FIELD_NAMES)
    add("utf16.jsonl", _jsonl(two).encode("utf-16"), rows=2, columns=FIELD_NAMES)
    add("utf32.csv", _csv(two).encode("utf-32"), rows=2, columns=FIELD_NAMES)
    add("latin1.csv", _csv([_good(1, name="Zoë Müller"), _good(2, name="François")]).encode("latin-1"), rows=2, columns=FIELD_NAMES)
    add("cp1252_smart_quotes.csv", _csv([_good(1, name="“quoted” – dash €")]).encode("cp1252"), rows=1, columns=FIELD_NAMES)
    add("latin1.json", _json([_good(1, name="Zoë")]).encode("latin-1"), rows=1, columns=FIELD_NAMES)
    add("mixed_utf8_then_latin1.csv", u(_csv([_good(1, name="Zoë")])) + _csv([_good(2, name="Zoë")])
        .split("\n", 1)[1].encode("latin-1"), rows=2)
    add("invalid_utf8_sequence.csv", b"id,name\nk1,\xff\xfe\xfa\nk2,ok\n", rows=2)
    add("overlong_utf8.csv", b"id,name\nk1,\xc0\xaf\n", rows=1)
    add("shift_jis.csv", "id,name\nk1,日本語\n".encode("shift_jis"), rows=1)
    # NUL bytes and other control characters
    add("nul_in_header.csv", b"id,na\x00me\nk1,a\n")
    add("nul_in_cell.csv", b"id,name\nk1,a\x00b\n", rows=1)
    add("nul_after_64k.csv", u(_csv([_good(i % 20, notes="x" * 200) for i in range(400)])) + b"k1,a\x00b,,,,,,,,\n", rows=401)
    add("nul_escaped_in_json.json", _json([_good(1, name="a\u0000b")]), rows=1)
    add("nul_escaped_in_jsonl.jsonl", _jsonl([_good(1, notes="\u0000")]), rows=1)
    add("nul_escaped_in_json_key.json", '[{"id": "k1", "name": "a", "no\\u0000te": "x"}]', rows=1)
    add("lone_surrogate.json", '[{"id": "k1", "name": "\\ud800"}]', rows=1)
    add("lone_surrogate_key.json", '[{"id": "\\udfff", "name": "x"}]', rows=1)
    add("control_chars.csv", _csv([_good(1, name="a\x01\x02\x1b[31mred\x7f"), _good(2, name="\u202eevil\u200b")]), rows=2)
    add("binary_zip.csv", b"PK\x03\x04\x14\x00\x06\x00" + os.urandom(2000))
    add("binary_gzip.json", b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    add("binary_noise.csv", bytes((i * 7919) % 251 + 1 for i in range(5000)))
    # shape of CSV rows
    add("ragged_short.csv", "id,name,age\nk1,a,1\nk2,b\nk3\n", rows=3)
    add("ragged_long.csv", "id,name,age\nk1,a,1\nk2,b,2,extra,more\n", rows=2)
    add("ragged_mixed.csv", "id,name\nk1\nk2,b,c\nk3,c\n,\n", rows=4)
    add("trailing_delimiter.csv", "id,name,\nk1,a,\nk2,b,\n", rows=2)
    add("unterminated_quote_last.csv", 'id,name\nk1,a\nk2,"never closed\n')
    add("unterminated_quote_first.csv", 'id,name\nk1,"open\nk2,b\nk3,c\n')
    add("unterminated_quote_header.csv", 'id,"name\nk1,a\n')
    add("quote_inside_unquoted.csv", 'id,name\nk1,a"b"c\nk2,ok\n', rows=2)
    add("text_after_closing_quote.csv", 'id,name\nk1,"a"b\nk2,ok\n', rows=2)
    add("quoted_newlines.csv", 'id,name,notes\nk1,a,"line1\nline2\r\nline3"\nk2,b,"\n\n"\n', rows=2)
    add("blank_lines_between.csv", "id,name\n\nk1,a\n\n\nk2,b\n\n", rows=2)
    add("cr_only_newlines.csv", "id,name\rk1,a\rk2,b\r", rows=2)
    add("mixed_newlines.csv", "id,name\r\nk1,a\nk2,b\rk3,c\n", rows=3)
    add("semicolons.csv", _csv(two, delimiter=";"), rows=2, columns=FIELD_NAMES)
    add("tabs.csv", _csv(two, delimiter="\t"), rows=2, columns=FIELD_NAMES)
    add("pipes.csv", _csv(two, delimiter="|"), rows=2, columns=FIELD_NAMES)
    add("mixed_delimiters.csv", "id,name;age\tphone\nk1,a;1\t2\n", rows=1)
    add("all_empty_cells.csv", "id,name,age\n,,\n,,\n", rows=2)
    add("single_column_key_only.csv", "id\nk1\nk2\n", rows=2, columns=["id"])
    add("long_line_no_newline.csv", "id,name\n" + "k1," + "x" * 300_000, rows=1)
    # headers
    wide = 200_000
    add("wide_header_200k.csv", "id,name," + ",".join(f"c{i}" for i in range(wide)) + "\nk1,a" + "," * wide + "\n", rows=1)
    add("wide_header_20k.csv", "id,name," + ",".join(f"c{i}" for i in range(20_000)) + "\nk1,a" + "," * 20_000 + "\n", rows=1)
    add("wide_object_20k.json", _json([{"id": "k1", "name": "a", **{f"c{i}": "" for i in range(20_000)}}]), rows=1)
    add("duplicate_header.csv", "id,name,name\nk1,a,b\n", rows=1)
    add("duplicate_key_header.csv", "id,id,name\nk1,k2,a\n", rows=1)
    add("duplicate_header_case.csv", "id,Name,name\nk1,a,b\n", rows=1)
    add("duplicate_header_spaces.csv", "id,name, name \nk1,a,b\n", rows=1)
    add("empty_header_cell.csv", "id,,name\nk1,x,a\n", rows=1)
    add("whitespace_header.csv", " id , name \nk1,a\n", rows=1)
    add("only_unknown_columns.csv", "foo,bar\n1,2\n3,4\n", rows=2)
    add("only_unknown_columns.json", _json([{"foo": 1, "bar": 2}]), rows=1)
    add("unknown_plus_known.csv", "id,name,zzz\nk1,a,b\n", rows=1)
    add("header_is_data.csv", "k1,a,1\nk2,b,2\n", rows=1)
    add("header_10k_chars_name.csv", "id,name," + "h" * 10_000 + "\nk1,a,b\n", rows=1)
    add("formula_header.csv", 'id,name,=HYPERLINK("http://x")\nk1,a,b\n', rows=1)
    # huge cells and keys
    add("huge_cell_2mb.csv", _csv([_good(1, notes="x" * 2_000_000)]), rows=1, columns=FIELD_NAMES)
    add("cell_at_limit.csv", _csv([_good(1, notes="y" * 10_000)]), rows=1, columns=FIELD_NAMES)
    add("cell_over_limit.csv", _csv([_good(1, notes="y" * 10_001), _good(2)]), rows=2, columns=FIELD_NAMES)
    add("huge_cell.json", _json([_good(1, notes="z" * 1_000_000)]), rows=1, columns=FIELD_NAMES)
    add("key_300_chars.csv", _csv([_good(1, id="K" * 300), _good(2)]), rows=2, columns=FIELD_NAMES)
    add("key_100k_chars.json", _json([_good(1, id="K" * 100_000)]), rows=1, columns=FIELD_NAMES)
    add("key_multibyte_255.csv", _csv([_good(1, id="é" * 255)]), rows=1, columns=FIELD_NAMES)
    add("key_odd_characters.csv", _csv([_good(1, id="a/b?c#d"), _good(2, id=" spaced "), _good(3, id="ключ"),
                                        _good(4, id="../../etc")]), rows=4, columns=FIELD_NAMES)
    # wrong values for each field type (one good row first, so a rejection must roll it back)
    bad_values = {
        "age": ["abc", "1.5", "1e3", "99999999999999999999", "-99999999999999999999", "0x10", "١٢", " 7 ", "+", "--1"],
        "price": ["abc", "1,5.3", "1e400", "NaN", "Infinity", "-inf", "1.2.3", "$5", "9" * 400, "0x1p3"],
        "born": ["2023-02-30", "0000-01-01", "9999-12-31", "10000-01-01", "31/12/2020", "yesterday", "2020-13-01", "-0001-01-01"],
        "seen": ["2023-01-01T25:00", "2023-01-01 10:00:00+25:00", "not a time", "2023-01-01T10:00:00.123456789Z",
                 "1970-01-01T00:00:00-99:99", "99999-01-01T00:00:00"],
        "active": ["maybe", "2", "yes please", "TRUEE", "null", "🙂"],
        "email": ["a@", "@b", "a b@c.d", "a@b@c", "x" * 300 + "@example.com", "<script>@x.y"],
        "phone": ["++", "abc", "1" * 100, "+", "☎", "555-CALL-NOW"],
    }
    for name, values in bad_values.items():
        rows = [_good(0)] + [_good(i + 1, **{name: v}) for i, v in enumerate(values)]
        add(f"bad_{name}.csv", _csv(rows), rows=len(rows), columns=FIELD_NAMES)
        add(f"bad_{name}.json", _json(rows), rows=len(rows), columns=FIELD_NAMES)
    add("bad_types_as_json_types.json", _json([_good(1), {**_good(2), "age": 1.5}, {**_good(3), "age": True},
                                               {**_good(4), "active": 1}, {**_good(5), "price": [1]}]), rows=5)
    add("json_numbers_for_fields.json", _json([{"id": 7, "name": 8, "age": 30, "price": 1.25, "active": False}]), rows=1)
    add("json_null_values.json", _json([{"id": "k1", "name": None, "age": None}]), rows=1)
    add("required_name_missing.csv", "id,age\nk1,3\n", rows=1)
    # numbers of 10,000 digits
    big = "9" * 10_000
    add("age_10000_digits.csv", _csv([_good(1, age=big)]), rows=1, columns=FIELD_NAMES)
    add("price_10000_digits.csv", _csv([_good(1, price=big + ".5")]), rows=1, columns=FIELD_NAMES)
    add("number_10000_digits.json", '[{"id": "k1", "name": "a", "age": ' + big + "}]", rows=1)
    add("float_10000_digits.json", '[{"id": "k1", "name": "a", "price": 0.' + big + "}]", rows=1)
    add("exponent_huge.json", '[{"id": "k1", "name": "a", "price": 1e99999}]', rows=1)
    add("number_10000_digits.jsonl", '{"id": "k1", "name": "a", "age": ' + big + "}\n", rows=1)
    add("nan_literal.json", '[{"id": "k1", "name": "a", "price": NaN, "age": Infinity}]', rows=1)
    # keys
    add("missing_key_value.csv", _csv([_good(1), _good(2, id="")]), rows=2, columns=FIELD_NAMES)
    add("missing_key_whitespace.csv", _csv([_good(1), _good(2, id="   ")]), rows=2, columns=FIELD_NAMES)
    add("missing_key_column.csv", "name,age\na,1\nb,2\n", rows=2)
    add("missing_key.json", _json([_good(1), {"name": "no key"}]), rows=2)
    add("null_key.json", _json([_good(1), {**_good(2), "id": None}]), rows=2)
    add("object_key.json", _json([{**_good(2), "id": {"a": 1}}]), rows=1)
    add("duplicate_keys_same.csv", _csv([_good(1), _good(1)]), rows=2, columns=FIELD_NAMES)
    add("duplicate_keys_differ.csv", _csv([_good(1), _good(1, name="Other")]), rows=2, columns=FIELD_NAMES)
    add("duplicate_keys_differ.json", _json([_good(3), _good(3, name="Other")]), rows=2, columns=FIELD_NAMES)
    add("duplicate_keys_case.csv", _csv([_good(1, id="KX"), _good(1, id="kx")]), rows=2, columns=FIELD_NAMES)
    add("duplicate_keys_many.csv", _csv([_good(i % 3) for i in range(3000)]), rows=3000, columns=FIELD_NAMES)
    # JSON that is not an array of objects
    add("json_object.json", _json(_good(1)))
    add("json_object_of_rows.json", _json({"rows": two}))
    add("json_number.json", "42")
    add("json_string.json", '"id,name"')
    add("json_null.json", "null")
    add("json_true.json", "true")
    add("array_of_numbers.json", "[1, 2, 3]", rows=3)
    add("array_of_arrays.json", '[["id", "name"], ["k1", "a"]]', rows=2)
    add("array_mixed.json", _json([_good(1), 5, "x", None, [1]]), rows=5)
    add("nested_arrays.json", _json([[_good(1)]]), rows=1)
    add("duplicate_object_keys.json", '[{"id": "k1", "name": "first", "name": "second"}]', rows=1)
    add("duplicate_object_key_id.json", '[{"id": "k1", "name": "a", "id": "k2"}]', rows=1)
    add("duplicate_object_keys.jsonl", '{"id": "k1", "name": "first", "name": "second"}\n', rows=1)
    add("nested_values.json", _json([{**_good(1), "name": {"first": "a", "last": "b"}, "notes": [1, 2, {"x": None}]}]), rows=1)
    add("nested_values.jsonl", _jsonl([{**_good(1), "name": ["a", "b"]}]), rows=1)
    add("truncated_array.json", _json(two)[:-15])
    add("truncated_in_string.json", '[{"id": "k1", "name": "abc')
    add("truncated_after_comma.json", '[{"id": "k1", "name": "a"},')
    add("trailing_comma.json", '[{"id": "k1", "name": "a"},]', rows=1)
    add("trailing_garbage.json", _json(two) + " trailing", rows=2)
    add("two_arrays.json", _json(two) + _json(two), rows=4)
    add("comments.json", '// rows\n[{"id": "k1", "name": "a"} /* one */]', rows=1)
    add("single_quotes.json", "[{'id': 'k1', 'name': 'a'}]", rows=1)
    add("empty_key_name.json", '[{"id": "k1", "name": "a", "": "blank"}]', rows=1)
    add("csv_named_json.json", _csv(two), rows=2)
    add("json_named_csv.csv", _json(two), rows=2)
    add("jsonl_named_json.json", _jsonl(two), rows=2)
    # JSON lines
    add("jsonl_bad_line.jsonl", _jsonl([_good(1)]) + "{not json}\n" + _jsonl([_good(2)]), rows=3)
    add("jsonl_array_line.jsonl", _jsonl([_good(1)]) + "[1, 2]\n" + _jsonl([_good(2)]), rows=3)
    add("jsonl_scalar_lines.jsonl", '5\n"x"\nnull\n', rows=3)
    add("jsonl_blank_lines.jsonl", "\n" + _jsonl([_good(1)]) + "\n\n" + _jsonl([_good(2)]) + "\n", rows=2)
    add("jsonl_truncated_last.jsonl", _jsonl([_good(1)]) + '{"id": "k2", "na', rows=2)
    add("jsonl_crlf.jsonl", _jsonl(two).replace("\n", "\r\n"), rows=2)
    add("jsonl_one_array.jsonl", _json(two), rows=1)  # one line, so one row (not an object), whatever it holds
    # deep nesting
    depth = 100_000
    add("deep_nesting.json", '[{"id": "k1", "name": ' + "[" * depth + "]" * depth + "}]", rows=1)
    add("deep_nesting_objects.json", '[{"id": "k1", "name": "a", "notes": ' + '{"a":' * depth + "1" + "}" * depth + "}]", rows=1)
    add("deep_nesting.jsonl", '{"id": "k1", "name": ' + "[" * depth + "]" * depth + "}\n", rows=1)
    add("deep_nesting_top.json", "[" * depth + "]" * depth)
    add("nesting_900.json", '[{"id": "k1", "name": "a", "notes": ' + "[" * 900 + "]" * 900 + "}]", rows=1)
    # formula-looking cells
    formulas = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']
    # Quoted throughout: with "\n" line ends the csv module leaves a bare "\r" unquoted, which ends a line for any reader.
    add("formula_cells.csv", _csv([_good(i, name=f, notes=f) for i, f in enumerate(formulas)], quoting=csv.QUOTE_ALL),
        rows=len(formulas), columns=FIELD_NAMES)
    add("formula_cells.json", _json([_good(i, name=f) for i, f in enumerate(formulas)]), rows=len(formulas), columns=FIELD_NAMES)
    add("html_cells.csv", _csv([_good(1, name="<script>alert(1)</script>", notes="{{ 7*7 }} {% debug %}")]), rows=1, columns=FIELD_NAMES)
    # a bad row far down: the rows before it are written chunk by chunk on PostgreSQL, then must be rolled back
    late = [_good(i % 20, id=f"late{i}") for i in range(55_000)] + [_good(1, id="late-bad", age="not a number")]
    late += [_good(i % 20, id=f"late{i}") for i in range(55_000, 60_000)]
    add("bad_row_at_55001.csv", _csv(late), rows=len(late), columns=FIELD_NAMES)
    add("bad_row_at_55001.jsonl", _jsonl(late), rows=len(late), columns=FIELD_NAMES)
    # append mode: a table of some columns must leave the others of existing records alone
    add("append_key_and_name_only.csv", _csv([{"id": k, "name": f"Renamed {k}"} for k in SEEDED_KEYS[:5]]), rows=5, columns=["id", "name"])
    add("append_key_and_name_only.json", _json([{"id": k, "name": f"Again {k}"} for k in SEEDED_KEYS[5:10]]), rows=5, columns=["id", "name"])
    add("append_partial_json_objects.json", _json([{"id": "k10", "name": "x"}, {"id": "k11", "name": "y", "age": "5"}]),
        rows=2, columns=None)
    add("good.csv", _csv(two), rows=2, columns=FIELD_NAMES)
    add("good.json", _json(two), rows=2, columns=FIELD_NAMES)
    add("good.jsonl", _jsonl(two), rows=2, columns=FIELD_NAMES)
    for case in cases:
        if case.name in VALID or case.name.startswith(("append_", "good.")):
            case.expect = "accept"
        elif case.name in INVALID or (case.name.startswith(("bad_", "empty", "json_", "truncated_", "deep_nesting", "binary_"))
                                      and case.name not in NO_VERDICT):
            case.expect = "reject"
    return cases


NO_VERDICT = {"empty_key_name.json", "empty_header_cell.csv", "json_named_csv.csv", "json_numbers_for_fields.json"}
# Well-formed tables of valid rows that every way in must accept, and tables that all-or-nothing must refuse.
VALID = {
    "bom_utf8.csv", "bom_utf8.json", "bom_utf8.jsonl", "utf16le_bom.csv", "utf16be_bom.csv", "utf16.json", "utf16.jsonl",
    "latin1.csv", "cp1252_smart_quotes.csv", "semicolons.csv", "tabs.csv", "pipes.csv", "quoted_newlines.csv",
    "blank_lines_between.csv", "cr_only_newlines.csv", "mixed_newlines.csv", "cell_at_limit.csv", "key_multibyte_255.csv",
    "key_odd_characters.csv", "formula_cells.csv", "formula_cells.json", "html_cells.csv", "jsonl_blank_lines.jsonl",
    "jsonl_crlf.jsonl", "unknown_plus_known.csv", "control_chars.csv",
}
INVALID = {
    "wide_header_20k.csv", "wide_header_200k.csv",  # wider than STEWARD_MAX_COLUMNS (1,000): refused at once
    "whitespace_only.csv", "newlines_only.csv", "bom_only.csv", "header_only.csv", "header_only_no_newline.csv",
    "header_only_crlf.csv", "array_of_empty_object.json", "jsonl_blank_lines_only.jsonl", "ragged_short.csv",
    "ragged_long.csv", "ragged_mixed.csv", "unterminated_quote_last.csv", "unterminated_quote_first.csv",
    "unterminated_quote_header.csv", "duplicate_header.csv", "duplicate_key_header.csv", "only_unknown_columns.csv",
    "only_unknown_columns.json", "cell_over_limit.csv", "huge_cell_2mb.csv", "huge_cell.json", "key_300_chars.csv",
    "key_100k_chars.json", "missing_key_value.csv", "missing_key_whitespace.csv", "missing_key_column.csv", "missing_key.json",
    "null_key.json", "object_key.json", "duplicate_keys_differ.csv", "duplicate_keys_differ.json", "array_of_numbers.json",
    "array_of_arrays.json", "array_mixed.json", "nested_arrays.json", "duplicate_object_keys.json",
    "duplicate_object_key_id.json", "duplicate_object_keys.jsonl", "trailing_garbage.json", "two_arrays.json",
    "comments.json", "single_quotes.json", "jsonl_bad_line.jsonl", "jsonl_array_line.jsonl", "jsonl_scalar_lines.jsonl",
    "jsonl_truncated_last.jsonl", "required_name_missing.csv", "age_10000_digits.csv", "number_10000_digits.json",
    "number_10000_digits.jsonl", "nan_literal.json", "exponent_huge.json", "bad_types_as_json_types.json", "nul_in_header.csv",
    "mixed_utf8_then_latin1.csv", "lone_surrogate.json", "lone_surrogate_key.json",
}


def generated_cases(examples: int, seed: int = 0) -> list[CorpusFile]:
    """Tables generated by hypothesis: odd cells, headers, widths, encodings and serialisations."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    odd = st.sampled_from(["", " ", "NA", "null", "None", "=1+1", "+1", '"', '""', ",", ";", "\n", "\r\n", "\r", "\t",
                           "\ufeff", "\u202e", "é", "日本", "🙂", "1e309", "9" * 30, "-0", "true", "0x1F", "2020-02-30",
                           "a@b", "\\", "'", "k1", "k2", " k1", "K1"])
    texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
    typed = st.one_of(st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                      st.dates().map(str), st.datetimes().map(lambda d: d.isoformat()), st.booleans().map(str))
    cell = st.one_of(odd, texts, typed)
    key = st.one_of(st.sampled_from(SEEDED_KEYS + ["g1", "g2", "g3", ""]), texts)
    column = st.one_of(st.sampled_from(FIELD_NAMES), st.sampled_from(["Name", "ID", " id", "extra", "", "name ", "Ä"]), texts)
    header = st.lists(column, min_size=1, max_size=8).map(lambda h: (["id"] + h) if h[0] != "id" and len(h) % 3 else h)

    json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts, odd)
    json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                   st.dictionaries(texts, inner, max_size=3)), max_leaves=6)

    @st.composite
    def table(draw):
        kind = draw(st.sampled_from(["csv", "csv", "csv_raw", "json", "jsonl"]))
        cols = draw(header)
        count = draw(st.integers(0, 12))
        rows, expected, columns = [], None, None
        if kind.startswith("csv"):
            for _ in range(count):
                width = draw(st.one_of(st.just(len(cols)), st.integers(0, len(cols) + 2)))
                row = [draw(key) if c == "id" else draw(cell) for c in (cols + ["x"] * 3)[:width]]
                rows.append(row)
            delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
            newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
            if kind == "csv":
                text = _csv(rows, cols, delimiter=delimiter, newline=newline)
                plain = all(any(c != "" for c in r) for r in rows) and not any("\x00" in c for r in rows for c in r)
                expected = count if plain else None
            else:  # no quoting at all: delimiters and newlines inside cells make a ragged, malformed table
                text = newline.join(delimiter.join(r) for r in [cols] + rows) + draw(st.sampled_from(["", newline]))
            ext = "csv"
            if len(set(cols)) == len(cols) and all(cols):
                columns = cols
        else:
            objects = []
            for _ in range(count):
                obj = {}
                for c in cols:
                    if draw(st.booleans()) or c == "id":
                        obj[c] = draw(key) if c == "id" and draw(st.booleans()) else draw(json_value)
                objects.append(obj if draw(st.integers(0, 9)) else draw(json_value))
            if kind == "json":
                text, ext = json.dumps(objects, ensure_ascii=draw(st.booleans())), "json"
            else:
                lines = [json.dumps(o, ensure_ascii=False) for o in objects]
                if lines and draw(st.booleans()):
                    at = draw(st.integers(0, len(lines) - 1))
                    lines[at] = lines[at][: draw(st.integers(0, max(len(lines[at]) - 1, 0)))]  # a truncated line
                text, ext = "\n".join(lines) + "\n", "jsonl"
            expected = count
        encoding = draw(st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "cp1252", "utf-16"]))
        data = text.encode(encoding, errors="replace") if encoding != "cp1252" else text.encode("cp1252", errors="replace")
        return ext, data, expected, columns

    found: list[tuple] = []

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None, phases=["generate"],
              suppress_health_check=list(HealthCheck))
    @given(table())
    def collect(example):
        found.append(example)

    collect()
    seen, cases = set(), []
    for i, (ext, data, expected, columns) in enumerate(found):
        if data in seen:
            continue
        seen.add(data)
        cases.append(CorpusFile(f"gen{i:04d}.{ext}", data, expected, columns, origin="hypothesis"))
    return cases


def build_corpus(*, examples: int, quick: bool = False) -> list[CorpusFile]:
    hand = hand_cases()
    if quick:
        hand = [c for c in hand if c.data.__len__() < 300_000][:30]
    return hand + generated_cases(examples)


# ---------------------------------------------------------------------------------------------- sending


@dataclass
class Outcome:
    file: str
    path: str
    partial: bool
    statuses: list[int] = field(default_factory=list)
    seconds: float = 0.0
    server_error: str = ""
    hung: bool = False
    batch: dict | None = None


class Probe:
    def __init__(self, folder: Path, cap: float):
        from django.contrib.auth import get_user_model
        from django.test import Client

        from accounts.services import create_user
        from mastering.models import Source
        from mastering.services import create_source

        self.folder, self.cap, self.always_fork = folder, cap, False
        user = get_user_model().objects.filter(username="prober").first() or create_user(
            username="prober", password="probe-pass-9x!Q", role="admin")
        self.user = user
        self.client = Client(raise_request_exception=True)
        self.client.force_login(user)
        self.source = Source.objects.filter(slug=SLUG).first() or create_source(
            name="Probe", slug=SLUG, key_field="id", actor=user,
            fields=[{"name": n, "type": t, "required": r} for n, t, r in FIELDS],
        )
        from mastering.services import receive_table

        seed = _csv([_good(int(k[1:])) for k in SEEDED_KEYS]).encode()
        receive_table(source=self.source, stream=io.BytesIO(seed), file_name="seed.csv", user=user, channel="command",
                      background=False)

    # -- state

    def records(self) -> dict[str, tuple]:
        from mastering.models import SourceRecord

        # Values only of the seeded records (what absent_columns_blanked compares): after the 60,000-row files the
        # source is large, and fetching every record's data twice per ingest made each later file three times slower.
        records = SourceRecord.objects.filter(source=self.source)
        data = dict(records.filter(key__in=SEEDED_KEYS).values_list("key", "data"))
        return {k: (v, h, r, data.get(k, {})) for k, v, h, r in records.values_list("key", "version", "content_hash", "retired")}

    def last_batch_id(self) -> int:
        from mastering.models import IngestBatch

        return IngestBatch.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def new_batches(self, after: int) -> list[dict]:
        from mastering.models import IngestBatch

        return list(IngestBatch.objects.filter(pk__gt=after, source=self.source).order_by("pk").values(
            "pk", "status", "received", "created", "updated", "unchanged", "rejected", "retired", "problem_count", "error",
            "partial", "problems"))

    # -- one request, timed, capped

    def timed(self, outcome: Outcome, call):
        started = time.perf_counter()
        response = None
        try:
            response = call()
        except Exception as exc:  # an exception out of a view is what a live server answers 500 to
            outcome.server_error = outcome.server_error or f"{type(exc).__name__}: {str(exc)[:300]}"
            outcome.statuses.append(500)
            _forget_broken_transaction()
        finally:
            elapsed = time.perf_counter() - started
            outcome.seconds += elapsed
            if elapsed > HANG_SECONDS:
                outcome.hung = True
        if response is not None:
            outcome.statuses.append(response.status_code)
            if response.status_code >= 500:
                outcome.server_error = outcome.server_error or f"HTTP {response.status_code}"
        return response

    def send_forked(self, case: CorpusFile, path: str, partial: bool, file_path: Path) -> Outcome:
        """Send in a forked child, so that one still running after the cap is killed (its transaction rolls back)."""
        from django.db import connections

        connections.close_all()  # the child opens its own connection; a shared socket would be corrupted
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: send, report, leave without running the parent's cleanup
            code = 0
            try:
                os.close(read_fd)
                outcome = self.send(case, path, partial, file_path)
                with os.fdopen(write_fd, "w") as pipe:
                    pipe.write(json.dumps(outcome.__dict__))
            except BaseException:  # noqa: BLE001 - the child must never return into the parent's loop
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        os.close(write_fd)
        started = time.perf_counter()
        chunks = []
        with os.fdopen(read_fd, "r") as pipe:
            ready, _, _ = select.select([pipe], [], [], self.cap)
            if ready:
                chunks.append(pipe.read())
        if not chunks:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        if chunks and chunks[0]:
            return Outcome(**json.loads(chunks[0]))
        outcome = Outcome(case.name, path, partial, seconds=time.perf_counter() - started)
        if outcome.seconds >= self.cap:
            outcome.hung = True
        else:
            outcome.server_error = "the probe's child process died"
        return outcome

    # -- the four ways in

    def send(self, case: CorpusFile, path: str, partial: bool, file_path: Path) -> Outcome:
        from django.core.files.uploadedfile import SimpleUploadedFile

        outcome = Outcome(case.name, path, partial)
        query = "?partial=true" if partial else ""
        url = f"/api/sources/{SLUG}/batches/{query}"
        if path == "api_multipart":
            self.timed(outcome, lambda: self.client.post(url, {"file": SimpleUploadedFile(case.name, case.data)}))
        elif path == "api_body":
            self.timed(outcome, lambda: self.client.post(url, data=case.data, content_type=CONTENT_TYPES[case.kind]))
        elif path == "upload_page":
            upload = self.timed(outcome, lambda: self.client.post(
                f"/sources/{SLUG}/upload/", {"file": SimpleUploadedFile(case.name, case.data)}))
            if upload is not None and upload.status_code == 302 and "/upload/" in upload.url:
                confirm = upload.url
                preview = self.timed(outcome, lambda: self.client.get(confirm))
                if preview is not None and preview.status_code == 200 and not outcome.hung:
                    form = {"mode": "append", **({"partial": "on"} if partial else {})}
                    done = self.timed(outcome, lambda: self.client.post(confirm, form))
                    if done is not None and done.status_code == 302 and "/batches/" in done.url:
                        self.timed(outcome, lambda: self.client.get(done.url))
        elif path == "command":
            from django.core.management import CommandError, call_command

            def command():
                try:
                    call_command("ingest", SLUG, str(file_path), *(["--partial"] if partial else []),
                                 stdout=io.StringIO(), stderr=io.StringIO())
                except CommandError:
                    pass  # the command's way of saying "rejected"; not a server error
                return None

            self.timed(outcome, command)
            if not outcome.server_error:
                outcome.statuses.append(0)
        return outcome


def _forget_broken_transaction() -> None:
    from django.db import connection

    if connection.in_atomic_block:
        return
    try:
        connection.rollback()
    except Exception:
        connection.close()


def _check(probe: Probe, case: CorpusFile, outcome: Outcome, before: dict, after: dict, batches: list[dict],
           figures: Counter, examples: dict[str, dict]) -> None:
    def note(figure: str, detail: str) -> None:
        figures[figure] += 1
        seen = examples[figure]
        detail = " ".join(detail.split("\n")[0].split())[:220]
        way = f"{outcome.path}{'+partial' if outcome.partial else ''}"
        if (case.name, detail) in seen:
            seen[(case.name, detail)].append(way)
        elif len(seen) < 25:
            seen[(case.name, detail)] = [way]

    failed = [b for b in batches if b["status"] == "failed"]
    if outcome.server_error or failed:
        note("server_errors", outcome.server_error or f"batch {failed[0]['pk']} failed: {failed[0]['error'][:200]}")
    if outcome.hung:
        note("hangs", f"{outcome.seconds:.1f} s" + (" (killed at the cap)" if outcome.seconds >= probe.cap else ""))
    accepted = [b for b in batches if b["status"] == "succeeded"]
    if not outcome.partial and case.expect == "accept" and not accepted and not outcome.hung:
        why = batches[0]["problems"][0]["reason"] if batches and batches[0]["problems"] else (batches[0]["status"] if batches else "no batch")
        note("valid_files_not_accepted", str(why))
    if not outcome.partial and case.expect == "reject" and accepted:
        note("invalid_files_accepted", f"accepted: +{accepted[0]['created']} ~{accepted[0]['updated']} ={accepted[0]['unchanged']}")
    changed = {k for k in set(before) | set(after) if before.get(k, (None,))[:3] != after.get(k, (None,))[:3]}
    if not outcome.partial:
        if not accepted and changed:
            note("partial_writes", f"not accepted ({[b['status'] for b in batches] or 'no batch'}) yet {len(changed)} records changed")
        for b in accepted:
            if b["rejected"]:
                note("partial_writes", f"all-or-nothing batch {b['pk']} accepted with {b['rejected']} rejected rows")
    else:
        for b in accepted:
            written = b["created"] + b["updated"] + b["unchanged"]
            sent = case.rows if case.rows is not None else b["received"]
            if written + b["rejected"] != sent or b["received"] != sent:
                note("partial_accounting_errors", f"sent {sent}, received {b['received']}, written {written} "
                     f"(+{b['created']} ~{b['updated']} ={b['unchanged']}), rejected {b['rejected']}")
            if b["created"] + b["updated"] != len(changed):
                note("count_vs_records_mismatch", f"batch says {b['created']} created + {b['updated']} updated; {len(changed)} records changed")
    if accepted and case.columns is not None:
        blanked = 0
        for k in changed & set(before):
            old, new = before[k][3], after.get(k, (0, 0, 0, {}))[3]
            blanked += sum(1 for f in FIELD_NAMES if f not in case.columns and old.get(f) not in (None, "") and new.get(f) != old.get(f))
        if blanked:
            note("absent_columns_blanked", f"{blanked} values of columns the table does not have were changed")


def probe_all(cases: list[CorpusFile], *, paths: list[str], cap: float, progress: bool, always_fork: bool = False) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="steward-corpus-"))
    probe = Probe(folder, cap)
    probe.always_fork = always_fork
    warm = CorpusFile("warm-up.csv", _csv([_good(1)]).encode())
    for path in paths:  # fill the URL, template and connection caches once, so forked children inherit them
        (folder / warm.name).write_bytes(warm.data)
        probe.send(warm, path, False, folder / warm.name)
    figures: Counter = Counter()
    examples: dict[str, dict] = {k: {} for k in ["server_errors", "hangs", "partial_writes", "partial_accounting_errors",
                                                 "count_vs_records_mismatch", "absent_columns_blanked",
                                                 "valid_files_not_accepted", "invalid_files_accepted"]}
    by_path: dict[str, Counter] = {p: Counter() for p in paths}
    statuses: Counter = Counter()
    slowest: list[tuple[float, str]] = []
    started = time.perf_counter()
    for n, case in enumerate(cases, 1):
        file_path = folder / case.name
        file_path.write_bytes(case.data)
        for path in paths:
            for partial in (False, True):
                before, after_id = probe.records(), probe.last_batch_id()
                # Big files run in a child killed at the cap; small ones in-process (a fork per ingest costs seconds on a busy machine).
                send = probe.send_forked if len(case.data) > FORK_ABOVE_BYTES or probe.always_fork else probe.send
                outcome = send(case, path, partial, file_path)
                batches = probe.new_batches(after_id)
                after = probe.records()
                was = Counter(figures)
                _check(probe, case, outcome, before, after, batches, figures, examples)
                for key in ("server_errors", "hangs", "partial_writes", "partial_accounting_errors"):
                    by_path[path][key] += figures[key] - was[key]
                figures["requests"] += len([s for s in outcome.statuses]) or 1
                statuses.update(str(s) for s in outcome.statuses)
                figures["accepted" if any(b["status"] == "succeeded" for b in batches) else "not_accepted"] += 1
                slowest.append((outcome.seconds, f"{case.name} {path}{' partial' if partial else ''}"))
        file_path.unlink()
        if progress:
            print(f"[corpus] {n}/{len(cases)} {case.name} {time.perf_counter() - started:.0f}s "
                  f"errors={figures['server_errors']} hangs={figures['hangs']} pw={figures['partial_writes']} "
                  f"acct={figures['partial_accounting_errors']}", file=sys.stderr, flush=True)
    slowest.sort(reverse=True)
    return {
        "files": len(cases),
        "files_hand": sum(c.origin == "hand" for c in cases),
        "files_generated": sum(c.origin == "hypothesis" for c in cases),
        "ingests": len(cases) * len(paths) * 2,
        "requests": figures["requests"],
        "server_errors": figures["server_errors"],
        "hangs": figures["hangs"],
        "partial_writes": figures["partial_writes"],
        "partial_accounting_errors": figures["partial_accounting_errors"],
        "count_vs_records_mismatch": figures["count_vs_records_mismatch"],
        "absent_columns_blanked": figures["absent_columns_blanked"],
        # all-or-nothing, hand cases with a verdict: valid tables refused, and tables that must be refused but were written
        "valid_files_not_accepted": figures["valid_files_not_accepted"],
        "invalid_files_accepted": figures["invalid_files_accepted"],
        "accepted": figures["accepted"],
        "not_accepted": figures["not_accepted"],
        "statuses": dict(sorted(statuses.items())),
        "by_path": {p: dict(c) for p, c in by_path.items()},
        "slowest": [f"{s:.1f}s {what}" for s, what in slowest[:8]],
        "examples": {k: [f"{name} [{' '.join(ways) if len(ways) < 8 else 'every way'}]: {detail}"
                         for (name, detail), ways in v.items()] for k, v in examples.items() if v},
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 1) for x in os.getloadavg()],  # the machine is shared: time figures depend on it
    }


# ---------------------------------------------------------------------------------------------- entry points


def _inline(args: argparse.Namespace) -> dict:
    """Runs in the child process: Django, a throwaway test database, the corpus, the figures."""
    sys.path.insert(0, str(ROOT))
    data_dir = tempfile.mkdtemp(prefix="steward-corpus-data-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "steward.settings", "STEWARD_DATA_DIR": data_dir, "CELERY_BROKER_URL": "",
                       "DEBUG": "false", "STEWARD_HTTPS": "false"})
    os.environ.setdefault("SECRET_KEY", "corpus-probe-only-key-not-for-any-deployment-0123456789")
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/steward_probe_input")
    import logging

    import django

    django.setup()
    logging.disable(logging.CRITICAL)  # 400s are the point here; failures are counted, not logged
    from django.db import connection
    from django.test.utils import setup_test_environment

    if "steward_ci" in connection.settings_dict["NAME"]:
        raise SystemExit("Refusing to run against steward_ci.")
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        cases = build_corpus(examples=args.examples, quick=args.quick)
        if args.only_hand:
            cases = [c for c in cases if c.origin == "hand"]
        if args.match:
            cases = [c for c in cases if any(m in c.name for m in args.match.split(","))]
        if args.skip:
            cases = [c for c in cases if not any(m in c.name for m in args.skip.split(","))]
        if args.limit:
            cases = cases[: args.limit]
        figures = probe_all(cases, paths=args.paths.split(","), cap=args.cap, progress=args.progress, always_fork=args.always_fork)
        figures["database"] = connection.vendor
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    return figures


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="30 hand cases (no huge files) and 10 generated")
    parser.add_argument("--examples", type=int, default=None, help="hypothesis examples (default 230, 10 with --quick)")
    parser.add_argument("--only-hand", action="store_true")
    parser.add_argument("--limit", type=int, default=0, help="send only the first N files")
    parser.add_argument("--skip", default="", help="leave out files whose names contain one of these comma-separated texts")
    parser.add_argument("--match", default="", help="send only files whose names contain one of these comma-separated texts")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    parser.add_argument("--cap", type=float, default=30.0, help="kill an ingest (all its requests) after this many seconds; counted as a hang")
    parser.add_argument("--progress", action="store_true", help="a line per file on stderr")
    parser.add_argument("--always-fork", action="store_true", help=f"run every ingest in a child killed at the cap, "
                        f"not only files over {FORK_ABOVE_BYTES // 1024} KB (slower)")
    parser.add_argument("--list", action="store_true", help="print the corpus (name, bytes, rows) and stop")
    parser.add_argument("--inline", action="store_true", help=argparse.SUPPRESS)
    return parser


def _argv(**options) -> list[str]:
    argv = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False, 0, ""):
            argv += [flag, str(value)]
    return argv


TARGETS = {
    "files": (">=", 300),
    "server_errors": ("==", 0),
    "hangs": ("==", 0),
    "partial_writes": ("==", 0),
    "partial_accounting_errors": ("==", 0),
}


def run(**options) -> dict:
    """Build the corpus and send it everywhere, in a child process (its own Django and test database); return the figures."""
    child = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--inline", *_argv(**options)],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        return {"error": f"corpus child exited with {child.returncode}", "output": child.stdout[-2000:]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.examples is None:
        args.examples = 10 if args.quick else 230
    if args.list:
        for case in build_corpus(examples=args.examples, quick=args.quick):
            print(f"{case.name}\t{len(case.data)}\t{case.rows}")
        return
    if args.inline:
        print(json.dumps(_inline(args)), flush=True)
        return
    options = {k: v for k, v in vars(args).items() if k not in {"inline", "list"}}
    print(json.dumps(run(**options)), flush=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        traceback.print_exc()
        sys.exit(130)

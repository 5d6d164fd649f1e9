"""Turn an uploaded file into chunks of text cells, or say clearly why it cannot be read."""

import codecs
import csv
import gc
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mastering.ingest import json_stream, windows1252
from mastering.ingest.limits import max_columns
from mastering.ingest.text import flaw, has_surrogate, shown
from steward.errors import InvalidInput

BLOCK = 1 << 20
ARROW_BLOCK_BYTES = 4 << 20
SNIFF_BYTES = 64 * 1024
DELIMITERS = [",", ";", "\t", "|"]
BLANK_LINE_MARKS = (b"\n\n", b"\n\r\n", b"\r\r")
HEADER_ROW = 1  # row numbers are spreadsheet rows: the header is row 1, the first record row 2


class TableError(InvalidInput):
    """The file as a whole cannot be read as a table."""


def _refuse_if_too_wide(columns: int, *, what: str = "") -> None:
    """Refuse a table wider than STEWARD_MAX_COLUMNS before any per-column work is done."""
    limit = max_columns()
    if columns > limit:
        raise TableError(f"The table has {columns:,} columns{what}; at most {limit:,} are accepted (STEWARD_MAX_COLUMNS).")


@dataclass
class TableFile:
    """What the first pass learned about a file."""

    path: Path
    file_name: str
    size: int
    checksum: str
    encoding: str
    kind: str  # csv | json | jsonl
    delimiter: str = ","
    warnings: list[str] = field(default_factory=list)
    blank_lines: bool = True  # an empty line somewhere (perhaps inside a quoted value); True when unsure
    quotes_even: bool = False  # an even count of double quotes: no quoted value can be left open at the end
    lines: int = 0  # line breaks, plus a last line without one

    @property
    def expected_rows(self) -> int | None:
        """About how many rows the table has, from its lines, for progress; None when lines do not tell (a JSON array)."""
        if self.kind == "json" or not self.lines:
            return None
        return max(self.lines - (1 if self.kind == "csv" else 0), 0)  # a CSV's first line is its header

    @property
    def plainly_numbered(self) -> bool:
        """Rows can be numbered in the order they are read: no empty line is skipped, no quote left open."""
        return self.quotes_even and not self.blank_lines


@dataclass
class Chunk:
    """Consecutive rows of a table as text cells ('' for empty), and rows that could not be read."""

    frame: pd.DataFrame
    rows: pd.Series  # spreadsheet row number of each frame row
    problems: list[dict] = field(default_factory=list)
    # JSON only: per column, which rows' objects leave that key out ('' in the frame, but not "empty": the
    # record keeps its current value). A column the table lacks altogether is absent from every row.
    absent: dict[str, np.ndarray] = field(default_factory=dict)


def inspect_file(path: Path, file_name: str, *, encoding: str | None = None) -> TableFile:
    """Checksum the file and decide its encoding, kind and delimiter without loading it."""
    if not encoding:
        with open(path, "rb") as handle:
            if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                return _inspect_utf16(path, file_name)
    digest = hashlib.sha256()
    size = 0
    head = b""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok, saw_multibyte = True, False
    first_bad_offset = None
    blank_lines, tail, quotes, newlines, returns, last_byte = False, b"", 0, 0, 0, b""
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            newlines, returns, last_byte = newlines + block.count(b"\n"), returns + block.count(b"\r"), block[-1:]
            seam = tail + block[:2]  # an empty line may straddle two blocks
            blank_lines = blank_lines or any(mark in block or mark in seam for mark in BLANK_LINE_MARKS)
            tail = block[-2:]
            quotes += block.count(b'"')
            if len(head) < SNIFF_BYTES:
                head += block[: SNIFF_BYTES - len(head)]
            digest.update(block)
            if utf8_ok:
                try:
                    utf8.decode(block)
                    saw_multibyte = saw_multibyte or not block.isascii()
                except UnicodeDecodeError as exc:
                    utf8_ok = False
                    first_bad_offset = size + exc.start
                    saw_multibyte = saw_multibyte or not block[: exc.start].isascii()
            size += len(block)
        if utf8_ok:
            try:
                utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_ok, first_bad_offset = False, size
    if size == 0 or not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise TableError("The file is empty: there is no header row and no data.")
    if b"\x00" in head:
        if _looks_like_utf16(head):
            raise TableError("This looks like UTF-16 text without a byte order mark. Save the table as UTF-8 "
                             "(or UTF-16 with a byte order mark) and try again.")
        raise TableError(
            "This looks like a binary file (it contains NUL bytes), not CSV or JSON. "
            "Export the table as CSV (UTF-8) or JSON and try again."
        )
    notes: list[str] = []
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise TableError(f"Unknown encoding {encoding!r}.") from None
        chosen = encoding
    elif utf8_ok:
        chosen = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
    elif saw_multibyte:
        line = _line_of_offset(path, first_bad_offset or 0)
        raise TableError(
            f"The file mixes encodings: it is mostly UTF-8, but line {line} has bytes that are not. "
            "Save the whole file as UTF-8 and try again."
        )
    else:
        chosen = windows1252.NAME  # cp1252, whose five undefined bytes are read as Latin-1, as browsers do
        notes.append("The file is not UTF-8; it was read as Latin-1 (Windows-1252). Check accented letters.")
    text_head = head.decode(chosen, errors="replace").lstrip("\ufeff")
    kind = _kind_of(file_name, text_head)
    delimiter = _sniff_delimiter(text_head) if kind == "csv" else ","
    if kind == "csv" and delimiter != ",":
        notes.append(f"Columns are separated by {_delimiter_name(delimiter)}.")
    lines = max(newlines, returns) + (0 if last_byte in (b"\n", b"\r") else 1)  # \r alone ends lines in old Mac files
    return TableFile(path, file_name, size, digest.hexdigest(), chosen, kind, delimiter, notes, blank_lines,
                     quotes % 2 == 0, lines)


def _inspect_utf16(path: Path, file_name: str) -> TableFile:
    """inspect_file for a file that starts with a UTF-16 byte order mark (Excel's "Unicode text", some Windows tools).

    Read as "utf-16", which takes the byte order from the mark, everywhere the file is opened. Lines, empty
    lines and quotes are counted in the decoded text: in the bytes, half of every character is a NUL, and a
    quote or line-break byte may be half of another character.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-16")()
    size, head, tail, last = 0, "", "", ""
    blank_lines, quotes, newlines, returns = False, 0, 0, 0
    blank_marks = [mark.decode() for mark in BLANK_LINE_MARKS]
    with open(path, "rb") as handle:
        try:
            while block := handle.read(BLOCK):
                digest.update(block)
                size += len(block)
                text = decoder.decode(block)
                if not text:
                    continue
                newlines, returns, last = newlines + text.count("\n"), returns + text.count("\r"), text[-1]
                seam = tail + text[:2]
                blank_lines = blank_lines or any(mark in text or mark in seam for mark in blank_marks)
                tail = text[-2:]
                quotes += text.count('"')
                if len(head) < SNIFF_BYTES:
                    head += text[: SNIFF_BYTES - len(head)]
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise TableError(f"The file starts as UTF-16 but cannot be decoded as UTF-16 ({exc.reason}). "
                             "Save the table as UTF-8 and try again.") from None
    if not head.strip():
        raise TableError("The file is empty: there is no header row and no data.")
    kind = _kind_of(file_name, head)
    delimiter = _sniff_delimiter(head) if kind == "csv" else ","
    notes = [f"Columns are separated by {_delimiter_name(delimiter)}."] if kind == "csv" and delimiter != "," else []
    lines = max(newlines, returns) + (0 if last in ("\n", "\r") else 1)
    return TableFile(path, file_name, size, digest.hexdigest(), "utf-16", kind, delimiter, notes, blank_lines,
                     quotes % 2 == 0, lines)


def _looks_like_utf16(head: bytes) -> bool:
    """Text in UTF-16 without a byte order mark: NULs (the high bytes of ASCII letters) at every other byte only."""
    even, odd = head[0::2], head[1::2]
    return any(len(part) >= 4 and part.count(0) > len(part) // 4 and not other.count(0)
               for part, other in ((even, odd), (odd, even)))


def _line_of_offset(path: Path, offset: int) -> int:
    with open(path, "rb") as handle:
        return handle.read(offset).count(b"\n") + 1


def _kind_of(file_name: str, text_head: str) -> str:
    stripped = text_head.lstrip()
    lower = file_name.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith(".json") or stripped.startswith("["):
        return "json"
    if stripped.startswith("{"):
        first_line = stripped.split("\n", 1)[0].strip()
        try:
            json.loads(first_line)
            return "jsonl"
        except ValueError:
            return "json"
    return "csv"


def _sniff_delimiter(text_head: str) -> str:
    sample = "\n".join(text_head.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        header = text_head.split("\n", 1)[0]
        return max(DELIMITERS, key=header.count)


def _delimiter_name(delimiter: str) -> str:
    return {";": "semicolons", "\t": "tabs", "|": "pipes"}.get(delimiter, repr(delimiter))


def read_columns(table: TableFile) -> list[str]:
    """The header of the table (CSV) or the keys seen in its first objects (JSON)."""
    for chunk in read_chunks(table, chunk_rows=50):
        return list(chunk.frame.columns)
    return []


def read_chunks(table: TableFile, *, chunk_rows: int = 50_000) -> Iterator[Chunk]:
    """Yield the table's rows in chunks of text cells."""
    if table.kind == "csv":
        yield from _csv_chunks(table, chunk_rows)
    elif table.kind == "jsonl":
        yield from _jsonl_chunks(table, chunk_rows)
    else:
        yield from _json_chunks(table, chunk_rows)


@dataclass
class CsvStructure:
    """Where a CSV's rows have the wrong number of fields, found before pandas reads it."""

    header: list[str]
    records: int  # rows after the header, blank ones included
    blank_rows: set[int]
    wrong_width: dict[int, int]  # spreadsheet row → number of fields


def scan_csv_structure(table: TableFile) -> CsvStructure:
    """Read every row once with the csv module: ragged rows and unclosed quotes are found exactly."""
    header = _csv_header(table)
    width = len(header)
    blank: set[int] = set()
    wrong: dict[int, int] = {}
    row = HEADER_ROW
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived row lists make the cyclic collector the bottleneck
    try:
        with open(table.path, encoding=table.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=table.delimiter, strict=True)
            next(reader)
            for fields in reader:
                row += 1
                count = len(fields)
                if count != width:
                    # pandas skips lines that are empty or only spaces; count them as blank so row numbers agree.
                    if count == 0 or (count == 1 and not fields[0].strip()):
                        blank.add(row)
                    else:
                        wrong[row] = count
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise TableError(
                f"A quoted value is never closed (it starts at or before row {row + 1}): check for an unbalanced "
                'double quote (").'
            ) from None
        raise TableError(f"Row {row + 1} cannot be read as CSV: {exc}.") from None
    except UnicodeDecodeError as exc:
        raise TableError(f"The file cannot be decoded as {table.encoding}: {exc.reason}.") from None
    finally:
        if gc_was_enabled:
            gc.enable()
    return CsvStructure(header, row - HEADER_ROW, blank, wrong)


class NeedsExactScan(Exception):
    """The quick read met a row it cannot number for sure (ragged, unclosed quote, undecodable)."""


def _csv_chunks(table: TableFile, chunk_rows: int) -> Iterator[Chunk]:
    header = _csv_header(table)
    done = 0
    if len(header) > 1 and table.plainly_numbered:
        # Quick read: with no empty line in the file, rows are numbered in order until Arrow meets a
        # ragged or unreadable row; only then is the file scanned row by row, and reading goes on from there.
        try:
            for chunk in _arrow_csv_chunks(table, header, None, [], chunk_rows, strict=True):
                done += len(chunk.frame)
                yield chunk
            return
        except NeedsExactScan:
            pass
    structure = scan_csv_structure(table)
    width = len(structure.header)
    # pandas drops blank rows and rows with too many fields; every other row gets the next number.
    all_rows = np.arange(HEADER_ROW + 1, HEADER_ROW + 1 + structure.records)
    too_long = {r for r, count in structure.wrong_width.items() if count > width}
    dropped = np.fromiter(structure.blank_rows | too_long, dtype=np.int64)
    pandas_rows = all_rows[~np.isin(all_rows, dropped)] if len(dropped) else all_rows
    short = {r: count for r, count in structure.wrong_width.items() if count < width}
    problems = [
        {"row": r, "column": "", "value": "", "reason": f"has {count} fields where the header has {width}"}
        for r, count in sorted(structure.wrong_width.items())
    ]
    if not len(pandas_rows):
        if problems:  # every row was ragged: report them with an empty chunk
            yield Chunk(frame=pd.DataFrame(columns=structure.header), rows=pd.Series([], dtype="int64"), problems=problems)
        return
    if width > 1:
        # Arrow drops short rows too, and reads the rest in C++ threads straight into Arrow arrays.
        good_rows = pandas_rows[~np.isin(pandas_rows, np.fromiter(short, dtype=np.int64))] if short else pandas_rows
        yield from _arrow_csv_chunks(table, structure.header, good_rows, problems, chunk_rows, skip=done)
        return
    try:
        reader = pd.read_csv(
            table.path, sep=table.delimiter, encoding=table.encoding, dtype=str, keep_default_na=False,
            na_values=[], na_filter=False,  # no value is ever missing; skipping the NA scan saves a tenth of the parse
            skip_blank_lines=True, chunksize=chunk_rows, on_bad_lines="skip", engine="c",
            names=structure.header, header=0,
        )
        offset = 0
        for frame in reader:
            if offset + len(frame) > len(pandas_rows):
                _refuse_rows_read_two_ways(pandas_rows, offset)
            rows = pd.Series(pandas_rows[offset : offset + len(frame)], index=frame.index)
            # The structural problems are all known up front; they travel with the first chunk.
            chunk_problems, problems = problems, []
            offset += len(frame)
            if short:
                keep = ~rows.isin(short.keys())
                frame, rows = frame[keep], rows[keep]
            yield Chunk(frame=frame, rows=rows, problems=chunk_problems)
        if offset != len(pandas_rows):  # fewer rows than the scan found: the rows handed out may be misnumbered
            _refuse_rows_read_two_ways(pandas_rows, offset)
    except pd.errors.ParserError as exc:
        raise TableError(_parser_message(exc)) from None
    except UnicodeDecodeError as exc:
        raise TableError(f"The file cannot be decoded as {table.encoding}: {exc.reason}.") from None


def _refuse_rows_read_two_ways(pandas_rows: np.ndarray, offset: int) -> None:
    """pandas and the csv module's scan split a one-column file into rows differently (stray quotes and line breaks,
    as in a binary file): its rows cannot be numbered for sure, so it is refused rather than misnumbered."""
    near = int(pandas_rows[min(offset, len(pandas_rows) - 1)]) if len(pandas_rows) else HEADER_ROW + 1
    raise TableError(f"The file cannot be read as CSV for sure: its rows split two ways (near row {near}), which "
                     'stray double quotes (") or line breaks inside values cause. Export the table as CSV (UTF-8) '
                     "and try again.")


class _BlockTooSmall(Exception):
    """A row is longer than Arrow's read block (long text values): read again with a larger block."""


def _arrow_csv_chunks(table: TableFile, header: list[str], rows: np.ndarray | None, problems: list[dict],
                      chunk_rows: int, *, strict: bool = False, skip: int = 0) -> Iterator[Chunk]:
    """The table's rows as frames of Arrow-backed text, read in C++ threads.

    rows numbers the rows Arrow keeps, the ragged ones being known and skipped; without it (strict)
    rows are numbered in order, and a ragged or unreadable row raises NeedsExactScan instead. The
    first skip rows (already handed out by a strict read) are passed over.

    Arrow needs each row to fit in one read block. Blocks are ARROW_BLOCK_BYTES, which is plenty
    unless fields hold long text; a longer row is read again, from where the reading stopped, with a
    block four times as large, up to the size of the file.
    """
    block_size, handed = ARROW_BLOCK_BYTES, 0
    while True:
        try:
            for chunk in _arrow_csv_read(table, header, rows, problems, chunk_rows, strict=strict, skip=skip + handed,
                                         block_size=block_size):
                handed += len(chunk.frame)
                problems = []  # they travel with the first chunk only
                yield chunk
            return
        except _BlockTooSmall as exc:
            if block_size > table.size:
                raise TableError(f"The file is not valid CSV: {exc.__cause__}") from None
            block_size = min(block_size * 4, table.size + 1)


def _arrow_csv_read(table: TableFile, header: list[str], rows: np.ndarray | None, problems: list[dict],
                    chunk_rows: int, *, strict: bool, skip: int, block_size: int) -> Iterator[Chunk]:
    try:
        reader = pacsv.open_csv(
            table.path,
            read_options=pacsv.ReadOptions(
                column_names=header, skip_rows=1, block_size=block_size,
                encoding="utf8" if table.encoding in ("utf-8", "utf-8-sig") else table.encoding,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=table.delimiter, newlines_in_values=True, ignore_empty_lines=True,
                # Without strict, the structure scan has reported every ragged row already.
                invalid_row_handler=(lambda row: "error") if strict else (lambda row: "skip"),
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        pending: list[pa.RecordBatch] = []
        pending_rows, offset = 0, 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows + skip:
                whole = pa.Table.from_batches(pending)
                part, rest = whole.slice(skip, chunk_rows), whole.slice(skip + chunk_rows)
                offset, skip = offset + skip, 0
                yield _arrow_chunk(part, rows, offset, problems)
                offset += part.num_rows
                problems = []  # structural problems are all known up front; they travel with the first chunk
                pending, pending_rows = rest.to_batches(), rest.num_rows
        if pending_rows > skip or problems:
            yield _arrow_chunk(pa.Table.from_batches(pending, schema=reader.schema).slice(skip), rows, offset + skip,
                               problems)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        if "straddl" in str(exc):  # "straddling object straddles two block boundaries"
            raise _BlockTooSmall from exc
        if strict:
            raise NeedsExactScan from exc
        raise TableError(f"The file is not valid CSV: {exc}") from None


def _arrow_chunk(part: pa.Table, rows: np.ndarray | None, offset: int, problems: list[dict]) -> Chunk:
    frame = part.to_pandas(types_mapper=pd.ArrowDtype)
    numbers = (rows[offset : offset + len(frame)] if rows is not None
               else np.arange(HEADER_ROW + 1 + offset, HEADER_ROW + 1 + offset + len(frame)))
    return Chunk(frame=frame, rows=pd.Series(numbers, index=frame.index), problems=problems)


def _csv_header(table: TableFile) -> list[str]:
    with open(table.path, encoding=table.encoding, newline="") as handle:
        try:
            header = next(csv.reader(handle, delimiter=table.delimiter))
        except StopIteration:
            raise TableError("The file is empty: there is no header row and no data.") from None
        except csv.Error as exc:
            raise TableError(f"The header row cannot be read: {exc}.") from None
    _refuse_if_too_wide(len(header))
    header = [name.strip().lstrip("\ufeff") for name in header]
    for number, name in enumerate(header, start=1):
        if why := flaw(name):  # a NUL past the first 64 KB, which inspect_file looks at
            raise TableError(f"Header column {number} ({shown(name)[:100]}) has {why}.")
    if not any(header):
        raise TableError("The first row is blank; it must name the columns.")
    blanks = [str(i + 1) for i, name in enumerate(header) if not name]
    if blanks:
        raise TableError(f"Header column {', '.join(blanks)} has no name.")
    # One count of every name: header.count(name) per name was quadratic (40,000 columns took 37 s).
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise TableError(f"The header names these columns more than once: {', '.join(duplicates)}.")
    return header


def _parser_message(exc: Exception) -> str:
    text = str(exc)
    if "EOF inside string" in text or "EOF while" in text:
        row = text.rsplit("row", 1)[-1].strip(" .")
        return (
            f"A quoted value is never closed (it starts near row {row}): check for an unbalanced "
            'double quote (").'
        )
    return f"The file is not valid CSV: {text}"


def _records_to_chunk(records: list, numbers: np.ndarray, *, where: str) -> Chunk:
    """JSON items (with their row numbers) as a chunk of text cells, converted a column at a time.

    Each item that is not a plain object, each that names a key twice, and each that holds a nested value,
    is a problem.
    """
    is_object = np.fromiter((type(item) is dict for item in records), dtype=bool, count=len(records))
    problems = []
    for row, item in zip(numbers[~is_object], compress(records, ~is_object)):
        if isinstance(item, json_stream.RepeatedKeys):
            problems += [{"row": int(row), "column": shown(str(key)), "value": "",
                          "reason": f"repeats the key {shown(key)!r} in one object ({where}); each key may appear once"}
                         for key in item.repeated]
        else:
            problems.append({"row": int(row), "column": "", "value": shown(json.dumps(item, ensure_ascii=False)[:100]),
                             "reason": f"is not a JSON object ({where})"})
    if not is_object.any():
        return Chunk(frame=pd.DataFrame(), rows=pd.Series([], dtype="int64"), problems=problems)
    objects = list(compress(records, is_object))
    rows = numbers[is_object]
    nested = np.zeros(len(objects), dtype=bool)
    unstorable = np.zeros(len(objects), dtype=bool)  # rows refused for a key or value that cannot be stored
    columns: dict[str, pa.Array] = {}
    absent: dict[str, np.ndarray] = {}
    names = dict.fromkeys(chain.from_iterable(objects))  # every key, in the order first seen
    _refuse_if_too_wide(len(names), what=" (different keys in its objects)")  # each key costs a column's work below
    for name in names:
        if why := flaw(str(name)):
            # Refused, not ignored: the name would reach the batch's warnings, which the database cannot store.
            holders = np.fromiter(map(dict.__contains__, objects, repeat(name)), dtype=bool, count=len(objects))
            problems += [{"row": int(rows[position]), "column": shown(str(name)), "value": "",
                          "reason": f"is a key with {why}"} for position in np.flatnonzero(holders)]
            unstorable |= holders
            continue
        # Not through pandas, which would make 36 and null into 36.0 and NaN; fromiter leaves lists as they are.
        values = np.fromiter(map(dict.get, objects, repeat(name)), dtype=object, count=len(objects))
        left_out = ~np.fromiter(map(dict.__contains__, objects, repeat(name)), dtype=bool, count=len(objects))
        if left_out.any():  # an omitted key is not a null: the record keeps that value
            absent[str(name)] = left_out
        text, nested_here, broken = _json_column_text(values)
        for position in np.flatnonzero(nested_here & ~nested):
            problems.append({"row": int(rows[position]), "column": str(name), "value": "",
                             "reason": "holds a nested object or list; values must be plain"})
        for position in np.flatnonzero(broken):
            problems.append({"row": int(rows[position]), "column": str(name), "value": shown(values[position])[:200],
                             "reason": f"holds {flaw(values[position])}"})
        nested |= nested_here
        unstorable |= broken
        columns[str(name)] = text
    dropped = nested | unstorable
    keep = pa.array(~dropped)
    index = pd.RangeIndex(int((~dropped).sum()))  # items may all be {}: rows without any column
    frame = pd.DataFrame({name: pd.Series(column.filter(keep), dtype=pd.ArrowDtype(pa.string()), index=index)
                          for name, column in columns.items()}, index=index)
    problems.sort(key=lambda problem: problem["row"])
    return Chunk(frame=frame, rows=pd.Series(rows[~dropped], index=frame.index, dtype="int64"), problems=problems,
                 absent={name: mask[~dropped] for name, mask in absent.items()})


def _json_column_text(values: np.ndarray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """One column's JSON values as text ("" for null or absent), which cells hold an object or list, and which hold
    an unpaired surrogate (a "\\ud800" escape: not text, so it cannot go into Arrow or the database)."""
    plain = np.zeros(len(values), dtype=bool)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind in ("string", "empty"):  # the usual columns (numbers arrive as text too), converted in Arrow
        try:
            return pc.fill_null(pa.array(values, type=pa.string(), from_pandas=True), ""), plain, plain
        except UnicodeEncodeError:
            pass  # a surrogate somewhere: found cell by cell below
    elif kind == "boolean":
        array = pa.array(values, from_pandas=True, type=pa.bool_())
        return pc.fill_null(pc.if_else(array, "true", "false"), ""), plain, plain
    nested = np.fromiter((isinstance(value, (dict, list)) for value in values), dtype=bool, count=len(values))
    broken = np.fromiter((type(value) is str and has_surrogate(value) for value in values), dtype=bool,
                         count=len(values))
    texts = ["" if flag or value is None else _json_text(value) for value, flag in zip(values, nested | broken)]
    return pa.array(texts, pa.string()), nested, broken


def _json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_chunks(table: TableFile, chunk_rows: int) -> Iterator[Chunk]:
    """A JSON array, decoded an item at a time: memory stays flat however long the array is."""
    batch: list = []
    first_row = HEADER_ROW + 1  # JSON records are numbered from 2 too, so that row numbers read the same as for CSV
    with open(table.path, encoding=table.encoding) as handle:
        try:
            for item in json_stream.array_items(handle):
                batch.append(item)
                if len(batch) == chunk_rows:
                    yield _records_to_chunk(batch, _numbered(first_row, batch), where="JSON array item")
                    first_row, batch = first_row + len(batch), []
        except json_stream.NotAnArray:
            _refuse_json_that_is_not_an_array(table)
        except json_stream.JsonError as exc:
            raise TableError(f"The file is not valid JSON: {exc}.") from None
    if batch:
        yield _records_to_chunk(batch, _numbered(first_row, batch), where="JSON array item")
    elif first_row == HEADER_ROW + 1:
        raise TableError("The JSON array is empty: there are no records.")


def _numbered(first_row: int, items: list) -> np.ndarray:
    return np.arange(first_row, first_row + len(items))


def _refuse_json_that_is_not_an_array(table: TableFile) -> None:
    with open(table.path, encoding=table.encoding) as handle:
        try:
            json_stream.first_value(handle)
        except json_stream.ItemTooLarge:
            pass  # a large document that is not an array: say what was wanted
        except json_stream.JsonError as exc:
            raise TableError(f"The file is not valid JSON: {exc}.") from None
    raise TableError("A JSON table must be an array of objects, like [{\"id\": 1, ...}, ...].")


def _jsonl_chunks(table: TableFile, chunk_rows: int) -> Iterator[Chunk]:
    """JSON lines, each numbered by its line (plus one, so that the first record is row 2 as in CSV)."""
    items: list = []
    rows: list[int] = []
    unreadable: list[dict] = []
    seen_any = False
    with open(table.path, encoding=table.encoding) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            seen_any = True
            try:
                items.append(json_stream.loads(line))
                rows.append(HEADER_ROW + line_number)
            except json_stream.JsonError as exc:
                unreadable.append({"row": HEADER_ROW + line_number, "column": "", "value": line[:100].strip(),
                                   "reason": f"is not valid JSON ({exc})"})
            if len(items) + len(unreadable) >= chunk_rows:
                yield _json_lines_chunk(items, rows, unreadable)
                items, rows, unreadable = [], [], []
    if not seen_any:
        raise TableError("The file has no JSON lines.")
    if items or unreadable:
        yield _json_lines_chunk(items, rows, unreadable)


def _json_lines_chunk(items: list, rows: list[int], unreadable: list[dict]) -> Chunk:
    chunk = _records_to_chunk(items, np.asarray(rows, dtype=np.int64), where="JSON line")
    chunk.problems = sorted(chunk.problems + unreadable, key=lambda problem: problem["row"])
    return chunk


def write_upload(stream: io.RawIOBase | io.BufferedIOBase, path: Path, *, max_bytes: int) -> int:
    """Copy an upload to disk, stopping as soon as it exceeds the size limit."""
    from mastering.ingest.limits import TooLarge

    written = 0
    with open(path, "wb") as out:
        while block := stream.read(BLOCK):
            written += len(block)
            if written > max_bytes:
                raise TooLarge(max_bytes)
            out.write(block)
    return written

"""Reading a CSV table in chunks: Arrow's fast reader, with an exact scan where rows or quotes are irregular."""

import csv
import gc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from mastering.ingest.tables import HEADER_ROW, Chunk, TableError, TableFile, refuse_if_too_wide
from mastering.ingest.text import flaw, shown

ARROW_BLOCK_BYTES = 4 << 20


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


def csv_chunks(table: TableFile, chunk_rows: int) -> Iterator[Chunk]:
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
    refuse_if_too_wide(len(header))
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

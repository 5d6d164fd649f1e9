"""Turn an uploaded file into chunks of text cells, or say clearly why it cannot be read.

The types live in tables, the readers in csv_reading and json_reading; this module inspects a file and
hands it to its reader.
"""

import codecs
import csv
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

from mastering.ingest import windows1252
from mastering.ingest.csv_reading import csv_chunks
from mastering.ingest.json_reading import json_chunks, jsonl_chunks
from mastering.ingest.tables import Chunk, TableError, TableFile

BLOCK = 1 << 20
SNIFF_BYTES = 64 * 1024
DELIMITERS = [",", ";", "\t", "|"]
BLANK_LINE_MARKS = (b"\n\n", b"\n\r\n", b"\r\r")


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
        yield from csv_chunks(table, chunk_rows)
    elif table.kind == "jsonl":
        yield from jsonl_chunks(table, chunk_rows)
    else:
        yield from json_chunks(table, chunk_rows)


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

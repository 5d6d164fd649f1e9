"""JSON read as tables: the items of an array as a stream, and single lines, numbers kept as written.

The array is decoded an item at a time (the standard library's C decoder on a moving window of
text), so memory stays flat however long the array is, and deep nesting stops at Python's
recursion limit instead of growing without bound.
"""

import json
import re
from collections.abc import Iterator
from typing import TextIO

BLOCK_CHARS = 1 << 20
MAX_ITEM_CHARS = 16 << 20  # one record larger than this is a mistake, not data
WHITESPACE = re.compile(r"[ \t\r\n]*")


class RepeatedKeys(dict):
    """An object that names some key more than once: the standard decoder would keep the last value silently.

    Decoded whole (last value wins) so that reading goes on; the table reader reports it as a problem of its row.
    """

    repeated: list[str]


def _object(pairs: list[tuple[str, object]]) -> dict:
    value = dict(pairs)
    if len(value) == len(pairs):
        return value
    flagged = RepeatedKeys(value)
    counts: dict[str, int] = {}
    for key, _ in pairs:
        counts[key] = counts.get(key, 0) + 1
    flagged.repeated = [key for key, count in counts.items() if count > 1]
    return flagged


# Numbers, NaN and Infinity stay text as written (1.50 stays "1.50", and a 5,000-digit number is no
# trouble): a table's cells are text until they are checked against their field's type.
DECODER = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str, object_pairs_hook=_object)
# A value that ends this close to the end of the text read so far may go on (a number cut after "1." or "1e").
NEAR_END = 64


class JsonError(ValueError):
    """The text is not valid JSON; the message says where."""


class ItemTooLarge(JsonError):
    """One value is larger than MAX_ITEM_CHARS (or never ends)."""


class NotAnArray(Exception):
    """The document does not start with "[": the caller says what it wanted instead."""


def loads(text: str) -> object:
    """One JSON value (a line of JSON lines), numbers kept as written."""
    try:
        return DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise JsonError(exc.msg) from None
    except RecursionError:
        raise JsonError("it is nested too deeply") from None
    except ValueError as exc:  # whatever else the decoder refuses
        raise JsonError(str(exc)) from None


def array_items(handle: TextIO) -> Iterator[object]:
    """Each item of the JSON array that handle holds, in order; JsonError where the text goes wrong."""
    window = _Window(handle)
    if window.next_character() != "[":
        raise NotAnArray()
    window.pos += 1
    if window.next_character() == "]":
        window.pos += 1
        window.expect_end()
        return
    while True:
        yield window.decode_value()
        following = window.next_character()
        window.pos += 1
        if following == "]":
            window.expect_end()
            return
        if following != ",":
            raise JsonError(window.where(window.pos - 1, "expected ',' or ']' after an item of the array"))


def first_value(handle: TextIO) -> object:
    """The document's first value (for saying what a file that is not an array holds)."""
    return _Window(handle).decode_value()


class _Window:
    """The part of the file being decoded: text read ahead, less what is already decoded."""

    def __init__(self, handle: TextIO):
        self.handle = handle
        self.text = ""
        self.pos = 0
        self.line = 1  # the line of text[0], for messages
        self.at_end = False

    def _read_more(self) -> bool:
        if self.at_end:
            return False
        block = self.handle.read(BLOCK_CHARS)
        if not block:
            self.at_end = True
            return False
        self.line += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :] + block
        self.pos = 0
        return True

    def next_character(self) -> str:
        """Skip whitespace; the next character, or "" at the end of the file."""
        while True:
            self.pos = WHITESPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or not self._read_more():
                return self.text[self.pos : self.pos + 1]

    def decode_value(self) -> object:
        self.next_character()
        while True:
            try:
                value, end = DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                # Cut off by the end of the text read so far, rather than wrong: read on and try again.
                cut_off = exc.pos >= len(self.text) - NEAR_END or exc.msg.startswith("Unterminated string")
                if cut_off and self._read_more_of_value():
                    continue
                raise JsonError(self.where(exc.pos, exc.msg)) from None
            except RecursionError:
                raise JsonError(self.where(self.pos, "an item is nested too deeply")) from None
            except ValueError as exc:  # whatever else the decoder refuses
                raise JsonError(self.where(self.pos, str(exc))) from None
            if end > len(self.text) - NEAR_END and self._read_more_of_value():
                continue  # a number near the end of the window may go on in the next block
            self.pos = end
            return value

    def _read_more_of_value(self) -> bool:
        if len(self.text) - self.pos > MAX_ITEM_CHARS:
            raise ItemTooLarge(self.where(self.pos, f"an item is larger than {MAX_ITEM_CHARS >> 20} MB, or never ends"))
        return self._read_more()

    def expect_end(self) -> None:
        if self.next_character():
            raise JsonError(self.where(self.pos, "there is more text after the array"))

    def where(self, pos: int, message: str) -> str:
        return f"{message} (line {self.line + self.text.count(chr(10), 0, pos)})"

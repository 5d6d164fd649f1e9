"""Text that cannot be stored as it is, and how messages show it."""

import re

# PostgreSQL refuses a NUL in text and jsonb alike, and no database takes an unpaired UTF-16 surrogate, which is not
# text at all (UTF-8 cannot encode it). A JSON \u escape spells either: "\u0000", "\ud800".
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
SURROGATE = re.compile("[\ud800-\udfff]")


def shown(text: str) -> str:
    """text with each character that cannot be stored written as its \\u escape, so that a message holding it can be."""
    return UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def has_surrogate(text: str) -> bool:
    return not text.isascii() and SURROGATE.search(text) is not None


def flaw(text: str) -> str:
    """Why text cannot be stored as it is ("" when it can)."""
    if "\x00" in text:
        return "a NUL character (shown here as \\u0000), which cannot be stored"
    if has_surrogate(text):
        return f"an unpaired surrogate ({shown(SURROGATE.search(text).group())}), which is not valid text"
    return ""

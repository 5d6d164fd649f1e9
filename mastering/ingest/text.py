"""Text that cannot be stored as it is, and how messages show it."""

import re

# PostgreSQL refuses a NUL in text and jsonb alike; a JSON key or value may spell one as \u0000.
UNSTORABLE = re.compile("\x00")


def shown(text: str) -> str:
    """text with each character that cannot be stored written as its \\u escape, so that a message holding it can be."""
    return UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def flaw(text: str) -> str:
    """Why text cannot be stored as it is ("" when it can)."""
    if "\x00" in text:
        return "a NUL character (shown here as \\u0000)"
    return ""

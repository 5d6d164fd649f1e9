"""Markdown for issue descriptions and comments: refused when it carries script, rendered with raw HTML escaped."""

import re

from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.normalize_url import validateLink
from markdown_it.token import Token

# Raw HTML is never rendered (it is shown as text), but text that tries to run script is refused outright, so
# nobody is left wondering why their "formatting" shows up as tags, and nothing dangerous sits in the database.
_DANGEROUS_HTML = re.compile(r"<\s*/?\s*(script|iframe|object|embed|style|svg|math)\b|\son[a-z]+\s*=|javascript\s*:", re.I)

# Parses like the renderer, but keeps every link, so the refusal can name what the renderer would have dropped.
_inspector = MarkdownIt("commonmark")
_inspector.validateLink = lambda url: True

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("strikethrough").enable("table")


def _tokens(tokens: list[Token]):
    for token in tokens:
        yield token
        if token.children:
            yield from _tokens(token.children)


def unsafe_markdown_problems(text: str) -> list[str]:
    """What in the text would run script or smuggle a dangerous link; empty when it is safe."""
    problems = []
    for token in _tokens(_inspector.parse(text or "")):
        if token.type in ("html_block", "html_inline") and _DANGEROUS_HTML.search(token.content):
            problems.append(f"script or active HTML is not allowed: {token.content.strip()[:60]!r}")
        elif token.type in ("link_open", "image"):
            url = token.attrGet("href") or token.attrGet("src") or ""
            if not validateLink(str(url)):
                problems.append(f"links may not use the {str(url).split(':', 1)[0].strip().lower()!r} scheme")
    return problems


def render_markdown(text: str) -> SafeString:
    """HTML for stored Markdown: raw HTML escaped, unsafe links left out (markdown-it's own validation)."""
    return mark_safe(_renderer.render(text or ""))  # noqa: S308 — markdown-it escapes all text with html disabled

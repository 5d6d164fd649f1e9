"""`{{ value|readable }}` and `{{ name|words }}`: stored JSON shown as words on any app's pages, never a repr."""

from django import template

from steward import readable as readable_text

register = template.Library()


@register.filter
def readable(value) -> str:
    """A stored value as text people read (lists joined, mappings spelled out, — for nothing)."""
    return readable_text.text(value)


@register.filter
def words(name) -> str:
    """A stored name (snake_case) in words."""
    return readable_text.words(str(name))


@register.filter
def scalar_items(mapping) -> list[tuple[str, object]]:
    """The (name, value) pairs of a mapping whose values are single values, for a one-line summary."""
    return [(k, v) for k, v in (mapping or {}).items() if not isinstance(v, dict | list)]

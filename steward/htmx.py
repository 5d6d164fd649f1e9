from django.http import HttpRequest


def is_htmx(request: HttpRequest) -> bool:
    """True when htmx made the request, so a view can answer with a partial."""
    return bool(getattr(request, "htmx", False))

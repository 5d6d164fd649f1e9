from django.http import HttpRequest


def querystring_without_page(request: HttpRequest) -> str:
    """The current filters as a query string, minus the page number, for pagination links."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()

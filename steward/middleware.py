from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from steward.errors import busy_from_lock_timeout


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs a signed-in user; the API answers 401/403 itself, so it is left to DRF."""

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class BusyDatabaseMiddleware:
    """A page whose write gave up waiting for the database's lock answers 503 with Retry-After, not 500.

    The API's exception handler does the same for API views (steward.api.exceptions).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        busy = busy_from_lock_timeout(exception)
        if busy is None:
            return None
        response = TemplateResponse(request, "503.html", {"message": busy.message}, status=503)
        response["Retry-After"] = str(busy.retry_after)
        return response.render()

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.templatetags.static import static
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET

from lineage.selectors import list_activities
from steward import health


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: what is in Steward and what happened lately."""
    from steward.dashboard import dashboard_counts

    return render(
        request,
        "home.html",
        {"counts": dashboard_counts(user=request.user), "recent": list_activities()[:10]},
    )


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker status for load balancers and monitors; 503 when either is down."""
    checks = {"database": health.check_database(connection), "broker": health.check_broker()}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


@login_not_required
@cache_control(max_age=86_400, public=True)
@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico where a page names no icon (JSON, files): send them to the SVG one."""
    # Temporary, not permanent: after collectstatic the icon's URL carries a hash that changes with it.
    return HttpResponseRedirect(static("favicon.svg"))


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A path under /api/ that names no route is a JSON 404, like every other API error; pages get the 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found: no API route has this path."}, status=404)
    return defaults.page_not_found(request, exception)

"""Login lockout on top of django-axes: per username and address, and per address alone.

Axes counts failures per (username, address) pair, so one address could try a password on
every username (password spraying). The handler adds a second limit on all failures from
one address. It is not an axes lockout parameter because axes resets every matching
parameter on a successful sign-in: the sprayer's own account would wipe the address count.
"""

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Literal

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

Scope = Literal["address", "account"]


def client_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or what the outermost of our trusted proxies saw."""
    proxies = settings.STEWARD_TRUSTED_PROXIES
    if proxies:
        # Each proxy appends the address it was connected from; entries left of ours are the client's word.
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies and _is_address(forwarded[-proxies]):
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False  # too few proxies configured: that entry is the client's word, and not even an address
    return True


def _recent_address_attempts(address: str | None):
    since = timezone.now() - (get_cool_off() or timedelta(0))
    return AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=since)


def address_failures(address: str | None) -> int:
    """Failed sign-ins from one address within the cool-off period, over all usernames."""
    return _recent_address_attempts(address).aggregate(n=Sum("failures_since_start"))["n"] or 0


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler, also locking an address after too many failures over all usernames."""

    def get_failures(self, request, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        if address_failures(request.axes_ip_address) >= settings.AXES_ADDRESS_FAILURE_LIMIT:
            # Axes compares this count with its per-account limit; an address over its own limit counts as over both.
            return max(failures, get_failure_limit(request, credentials))
        return failures


def _lockout(request: HttpRequest) -> tuple[Scope, datetime]:
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    cool_off = get_cool_off(request) or timedelta(0)
    if address_failures(address) >= settings.AXES_ADDRESS_FAILURE_LIMIT:
        last = _recent_address_attempts(address).aggregate(last=Max("attempt_time"))["last"]
        return "address", (last or timezone.now()) + cool_off
    return "account", (getattr(request, "axes_attempt_time", None) or timezone.now()) + cool_off


def lockout_message(scope: Scope, until: datetime) -> str:
    who = "came from this address" if scope == "address" else "for this username came from this address"
    return (f"Too many failed sign-ins {who}. Try again after {until:%H:%M} UTC on {until:%Y-%m-%d}; "
            "every attempt before then starts the wait again.")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """What a locked-out sign-in gets (AXES_LOCKOUT_CALLABLE): 429, which limit, and when to try again."""
    scope, until = _lockout(request)
    until = until.astimezone(UTC)
    message = lockout_message(scope, until)
    retry_after = str(max(1, int((until - timezone.now()).total_seconds())))
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"detail": message}, status=429)
    else:
        response = render(request, "registration/locked_out.html", {"message": message, "scope": scope, "until": until},
                          status=429)
    response["Retry-After"] = retry_after
    return response

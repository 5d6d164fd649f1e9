"""Access matrix: every route x every role (and anonymous) x every method the route offers, judged by access_policy.

Requests go through Django's test client against seeded data; each runs inside a transaction that is rolled
back, so one check's write (a delete, a merge, a logout) cannot change what the next one sees, and on-commit
work (Celery tasks) never starts.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from benchmarks.harden import access_policy as policy
from benchmarks.harden.routes import Route, Unfillable, all_routes, fill
from benchmarks.harden.seed import Seeded

TARGETS = {
    "routes_covered": ("==", "routes_total"),
    "mismatches": ("==", 0),
}

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
OFFERED = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Matrix:
    routes_total: int = 0
    uncovered: list[str] = field(default_factory=list)  # "route: why"
    checks: int = 0
    mismatches: list[str] = field(default_factory=list)  # "ROLE METHOD url: got ..., expected ..."
    statuses: Counter = field(default_factory=Counter)

    def grouped(self) -> list[str]:
        """Mismatches with the roles that share them folded together: "OPTIONS /api/x/1/: 500 ... [admin, steward]"."""
        groups: dict[str, list[str]] = {}
        for line in self.mismatches:
            role, rest = line.split(" ", 1) if not line.startswith("business user ") and not line.startswith("data engineer ") \
                else (" ".join(line.split(" ", 2)[:2]), line.split(" ", 2)[2])
            groups.setdefault(rest, []).append(role)
        return [f"{rest} [{', '.join(roles)}]" for rest, roles in groups.items()]

    def figures(self, examples: int = 8) -> dict:
        grouped = self.grouped()
        return {
            "routes_covered": self.routes_total - len(self.uncovered),
            "routes_total": self.routes_total,
            "uncovered": self.uncovered[:examples],
            "checks": self.checks,
            "mismatches": len(self.mismatches),
            "mismatch_kinds": len(grouped),
            "mismatch_examples": grouped[:examples],
            "server_errors": sum(n for code, n in self.statuses.items() if code >= 500),
        }


class _Clients:
    """One test client per role, signed in again whenever a request (a logout) dropped its session."""

    def __init__(self, seeded: Seeded):
        from django.test import Client

        self.users = seeded.users
        self.clients = {role: Client(raise_request_exception=False) for role in policy.ROLES}
        for role, user in self.users.items():
            self.clients[role].force_login(user)

    def get(self, role: str):
        from django.conf import settings

        client = self.clients[role]
        if role in self.users:
            cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
            if cookie is None or not cookie.value:
                client.force_login(self.users[role])
        return client


def _send(client, method: str, url: str, *, api: bool, form: dict | None = None):
    from urllib.parse import urlencode

    from django.db import transaction

    with transaction.atomic():
        if method in WRITE_METHODS and api:
            response = client.generic(method, url, data=b"{}", content_type="application/json")
        elif method in WRITE_METHODS:
            response = client.generic(method, url, data=urlencode(form or {}), content_type="application/x-www-form-urlencoded")
        else:
            response = client.generic(method, url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        # No response.close(): the test client has closed it, and a second close fires request_finished, whose
        # close_old_connections would close a PostgreSQL connection that is inside this atomic block.
        transaction.set_rollback(True)
    return response


def offered_methods(route: Route, clients: _Clients, url: str) -> list[str]:
    """Methods a route answers: the schema's for API operations, else what a 405 to an unknown method allows."""
    if route.methods:
        return route.methods
    if route.template.startswith(policy.ADMIN_PREFIX):
        return ["GET", "POST"]  # admin views take any method; GET shows, POST changes
    response = _send(clients.get("admin"), "PROBE", url, api=route.kind == "api")
    if response.status_code == 405:
        allowed = [m.strip().upper() for m in response.get("Allow", "").split(",")]
        return [m for m in OFFERED if m in allowed]
    return ["GET"]  # a view that takes any method: pages only show on GET


def _is_login_redirect(response, *, admin_site: bool) -> bool:
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    location = response.get("Location", "")
    return location.startswith("/login/") or location.startswith("/admin/login/") or (admin_site and location.startswith("/admin/"))


def judge(route: Route, method: str, role: str, response) -> str | None:
    """Why a response breaks the table, or None when it is what the table expects."""
    needs = policy.needs_for(route.template)
    if method == "OPTIONS":
        # OPTIONS only describes the route: who may use it must get the description, others may or may not.
        allowed = any(policy.may(role, ability) for ability in needs.values())
        if not allowed and role != policy.ANONYMOUS and response.status_code in (200, 403):
            return None
    else:
        allowed = policy.may(role, needs[method])
    code = response.status_code
    admin_site = route.template.startswith(policy.ADMIN_PREFIX) and route.template != "/admin/login/"
    if code >= 500:
        return f"{code} server error"
    if allowed:
        if admin_site and role == "admin" and code in policy.ADMIN_SITE_REFUSALS:
            return None
        if code in (401, 403):
            return f"{code}, but the role may {needs.get(method, 'use it')}"
        if _is_login_redirect(response, admin_site=False) and route.template not in policy.SIGN_OUT:
            return f"{code} to {response.get('Location')}, but the role may {needs.get(method, 'use it')}"
        if code == 404 and route.template not in policy.NOT_FOUND_IS_FINE:
            return "404 for a seeded object"
        if code == 405:
            return "405, but the route offers the method"
        return None
    if route.kind == "api" and not admin_site:
        expected = (401, 403) if role == policy.ANONYMOUS else (403,)
        return None if code in expected else f"{code}, expected {' or '.join(map(str, expected))}"
    if admin_site or role == policy.ANONYMOUS:
        return None if _is_login_redirect(response, admin_site=admin_site) else f"{code}, expected a redirect to sign in"
    return None if code == 403 else f"{code}, expected 403"


def run_matrix(seeded: Seeded, *, routes: list[Route] | None = None, roles: list[str] | None = None) -> Matrix:
    """Send every check and collect the routes without expectations and the responses that break the table."""
    from django.core.signals import got_request_exception

    routes = all_routes() if routes is None else routes
    roles = list(policy.ROLES) if roles is None else roles
    clients = _Clients(seeded)
    result = Matrix(routes_total=len(routes))
    last_error: list[str] = []

    def remember(sender, request=None, **kwargs):
        import sys

        exc = sys.exc_info()[1]
        last_error.append(f"{type(exc).__name__}: {str(exc)[:120]}" if exc else "unknown")

    got_request_exception.connect(remember, weak=False)
    quiet = logging.getLogger("django.request")
    previous_level, quiet.level = quiet.level, logging.CRITICAL
    try:
        for route in routes:
            needs = policy.needs_for(route.template)
            if needs is None:
                result.uncovered.append(f"{route.template}: no entry in access_policy.ROUTES")
                continue
            try:
                url = fill(route.template, seeded)
            except Unfillable as exc:
                result.uncovered.append(f"{route.template}: {exc}")
                continue
            methods = offered_methods(route, clients, url)
            missing = [m for m in methods if m not in needs]
            if missing:
                result.uncovered.append(f"{route.template}: no expectation for {', '.join(missing)}")
                continue
            if route.kind == "api":
                methods = [*methods, "OPTIONS"]
            for method in methods:
                for role in roles:
                    last_error.clear()
                    response = _send(clients.get(role), method, url, api=route.kind == "api", form=seeded.forms.get(route.template))
                    result.checks += 1
                    result.statuses[response.status_code] += 1
                    problem = judge(route, method, role, response)
                    if problem:
                        detail = f" ({last_error[-1]})" if last_error else ""
                        result.mismatches.append(f"{role} {method} {url}: {problem}{detail}")
    finally:
        got_request_exception.disconnect(remember)
        quiet.level = previous_level
    return result


def run() -> dict:
    """The access part: a throwaway database, seeded, and the whole matrix."""
    from benchmarks.harden.seed import seed
    from benchmarks.harden.testdb import throwaway_database

    with throwaway_database():
        seeded = seed()
        return run_matrix(seeded).figures()

"""The access matrix (benchmarks/harden/access.py) as tests: every route has an expectation, and roles get what
benchmarks/harden/access_policy.py says. `make harden` runs the full matrix (the admin role inside the admin
site too); these tests leave out only that part, which is Django admin's own business, to stay fast."""

import pytest
from django.db import transaction

from benchmarks.harden import access, access_policy
from benchmarks.harden.routes import all_routes
from benchmarks.harden.seed import seed

# Marked so pytest-django creates the test database; the seeded data lives in the module fixture's transaction.
pytestmark = pytest.mark.django_db

# 5xx answers already known and being fixed on other branches. A new one fails the test; a fixed one may be
# dropped from here. (method, route template)
KNOWN_SERVER_ERRORS: set[tuple[str, str]] = set()  # (method, route template) of a 5xx not fixed yet


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module, in a transaction rolled back at its end."""
    from steward.celery import app as celery_app

    eager, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    with django_db_blocker.unblock(), transaction.atomic():
        data = seed()
        yield data
        transaction.set_rollback(True)
    celery_app.conf.task_always_eager = eager


@pytest.fixture(scope="module")
def routes():
    return all_routes()


def _app(routes):
    return [r for r in routes if not r.template.startswith(access_policy.ADMIN_PREFIX)]


def _admin_site(routes):
    return [r for r in routes if r.template.startswith(access_policy.ADMIN_PREFIX)]


def _split(mismatches: list[str], routes) -> tuple[list[str], list[str]]:
    """Mismatches that are known server errors, and all others."""
    import re

    from benchmarks.harden.routes import shape

    known = {(method, shape(template)) for method, template in KNOWN_SERVER_ERRORS}
    patterns = [(m, re.compile("^" + re.escape(s).replace(r"\{\}", "[^/]+") + "$")) for m, s in known]
    expected, other = [], []
    for line in mismatches:
        method, url = line.split(": ", 1)[0].split(" ")[-2:]
        is_known = " 5" in line and any(m == method and p.match(url.split("?")[0]) for m, p in patterns)
        (expected if is_known else other).append(line)
    return expected, other


def test_every_route_has_an_expectation_in_the_access_table(seeded, routes):
    result = access.run_matrix(seeded, routes=routes, roles=[])  # coverage only: no checks sent
    assert result.routes_total > 100
    assert result.uncovered == [], "Add these routes (and methods) to benchmarks/harden/access_policy.py ROUTES"


def test_a_route_missing_from_the_table_is_a_miss(seeded):
    from benchmarks.harden.routes import Route

    result = access.run_matrix(seeded, routes=[Route(template="/brand-new/", name="new", kind="page")], roles=[])
    assert result.uncovered == ["/brand-new/: no entry in access_policy.ROUTES"]


def test_roles_get_what_the_access_table_says_on_app_routes(seeded, routes):
    result = access.run_matrix(seeded, routes=_app(routes))
    known, other = _split(result.mismatches, routes)
    assert result.checks > 500
    assert other == [], f"{len(other)} of {result.checks} checks break the table ({len(known)} known server errors)"


def test_admin_site_sends_every_other_role_to_sign_in(seeded, routes):
    roles = [role for role in access_policy.ROLES if role != "admin"]
    result = access.run_matrix(seeded, routes=_admin_site(routes), roles=roles)
    assert result.checks > 500
    assert result.mismatches == []

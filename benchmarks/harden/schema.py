"""Schema probe: schemathesis sends generated requests to every operation of /api/schema/, as each role.

Requests go to the WSGI app in-process against seeded data; each runs in a transaction that is rolled back,
so the seeded objects stay for the next case and no on-commit work (a mastering job) starts. Figures:
server_errors (responses >= 500) and schema_violations (a status code, content type, header or body the
schema does not describe), each with the first few examples.
"""

from __future__ import annotations

import logging
import os
from collections import Counter

from benchmarks.harden.seed import Seeded

TARGETS = {
    "server_errors": ("==", 0),
    "schema_violations": ("==", 0),
    "operations": (">=", 1),
    "probe_errors": ("==", 0),
}

ROLES = ["admin", "steward", "curator", "business user", "data engineer"]
EXAMPLES = int(os.environ.get("HARDEN_SCHEMA_EXAMPLES", 4))  # generated cases per operation and role


def _rolled_back(app):
    """A WSGI app that answers inside a transaction and rolls it back."""
    from django.db import transaction

    def wrapped(environ, start_response):
        with transaction.atomic():
            body = b"".join(app(environ, start_response))
            transaction.set_rollback(True)
        return [body]

    return wrapped


def _seeded_path(template: str, seeded: Seeded) -> dict | None:
    """Path parameters naming seeded objects, so half the cases reach a real object instead of a 404."""
    import re
    from urllib.parse import unquote

    from benchmarks.harden.routes import Unfillable, fill

    try:
        filled = fill(template, seeded).split("?")[0]
    except Unfillable:
        return None
    names = re.findall(r"\{([^}]+)\}", template)
    pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
    match = re.match(pattern, filled)
    return {name: unquote(value) for name, value in zip(names, match.groups())} if match else None


def _prober(strategy, label, role, headers, examples, checks, counts, server_errors, violations, real_path, kinds):
    from urllib.parse import urlencode

    import hypothesis
    from schemathesis.core.failures import Failure, FailureGroup

    sent = [0]

    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    def probe(case):
        sent[0] += 1
        if real_path and sent[0] % 2:
            case.path_parameters = {**(case.path_parameters or {}), **real_path}
        response = case.call(headers=headers)
        counts["requests"] += 1
        if response.status_code >= 500:  # one per response, whatever else is wrong with it
            counts["server_errors"] += 1
            server_errors.append(f"{role} {label} -> {response.status_code}")
            return
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (FailureGroup, Failure) as exc:
            failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
            counts["schema_violations"] += len(failures)
            for failure in failures:
                kinds[failure.title] += 1
                message = " ".join(str(failure.message).split())[:160]
                query = f" ?{urlencode(case.query)[:60]}" if case.query else ""
                violations.append(f"{role} {label}{query} -> {response.status_code}: {failure.title} ({message})")

    return probe


def fuzz(seeded: Seeded, *, examples: int = EXAMPLES, roles: list[str] | None = None) -> dict:
    """Run schemathesis' response checks over every operation for each role; count what fails."""
    import schemathesis
    from django.core import signals
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections
    from rest_framework.authtoken.models import Token
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    # Django closes "obsolete" connections at request boundaries, which inside our transaction means every time.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    app = _rolled_back(get_wsgi_application())
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # 500s are counted, not printed
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
              response_schema_conformance]
    counts: Counter = Counter()
    server_errors: list[str] = []
    violations: list[str] = []
    operations: set[str] = set()
    schema_errors: list[str] = []
    probe_errors: list[str] = []
    kinds: Counter = Counter()

    tokens = {role: Token.objects.get(user=seeded.users[role]).key for role in roles or ROLES}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app,
                                            headers={"Authorization": f"Token {tokens['admin']}"})
    for result in schema.get_all_operations():
        try:
            operation = result.ok()
        except Exception as exc:  # an operation schemathesis cannot read is itself a schema problem
            schema_errors.append(f"{type(exc).__name__}: {str(exc)[:160]}")
            continue
        label = f"{operation.method.upper()} {operation.path}"
        operations.add(label)
        strategy = operation.as_strategy()
        real_path = _seeded_path(operation.path, seeded)
        for role, token in tokens.items():
            probe = _prober(strategy, label, role, {"Authorization": f"Token {token}"}, examples, checks, counts,
                            server_errors, violations, real_path, kinds)
            try:
                probe()
            except Exception as exc:  # the harness could not generate or send cases: its own error, not the app's
                counts["probe_errors"] += 1
                probe_errors.append(f"{role} {label}: {type(exc).__name__}: {str(exc)[:160]}")

    def first(items: list[str], n: int = 8) -> list[str]:
        """Distinct examples with the role left out, one of each kind of failure first."""
        seen: list[str] = []
        for item in items:
            for role in sorted(tokens, key=len, reverse=True):
                if item.startswith(role + " "):
                    item = item[len(role) + 1:]
                    break
            if item not in seen:
                seen.append(item)
        kinds, rest = [], []
        for item in seen:
            kind = item.split(": ", 1)[-1].split(" (")[0]
            (rest if any(k.split(": ", 1)[-1].split(" (")[0] == kind for k in kinds) else kinds).append(item)
        return (kinds + rest)[:n]

    return {
        "operations": len(operations),
        "roles": len(roles or ROLES),
        "requests": counts["requests"],
        "server_errors": counts["server_errors"],
        "server_error_examples": first(server_errors),
        "schema_violations": counts["schema_violations"] + len(schema_errors),
        "schema_violation_kinds": dict(kinds.most_common()),
        "schema_violation_examples": first(schema_errors + violations),
        "probe_errors": counts["probe_errors"],
        "probe_error_examples": first(probe_errors, 3),
    }


def run() -> dict:
    """The schema part: a throwaway database, seeded, fuzzed as every role."""
    from benchmarks.harden.seed import seed
    from benchmarks.harden.testdb import throwaway_database

    with throwaway_database():
        seeded = seed()
        return fuzz(seeded)

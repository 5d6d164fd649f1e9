"""The API answers as its OpenAPI schema says: schemathesis against every operation, with data behind them."""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from tests.factories import api_world, fill_path

pytestmark = pytest.mark.django_db

# A few examples per operation keeps the run short; raise it to look harder (STEWARD_API_EXAMPLES=50).
EXAMPLES_PER_OPERATION = int(os.environ.get("STEWARD_API_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def run_operation(operation, *, path_parameters: dict, headers: dict, failures: dict) -> int:
    """Send generated requests to one operation; collect what the checks find; return how many were sent."""
    sent = []

    @given(case=operation.as_strategy(path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(headers=headers)
        sent.append(response.status_code)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:  # keep going: report every operation's failures at the end
            for failure in group.exceptions:
                key = f"{operation.label} -> {response.status_code} {failure.title}: {failure.message[:300]}"
                failures.setdefault(key, f"{failure.message}\n{case.as_curl_command(headers=headers)}")

    check()
    return len(sent)


def path_values(operation, world: dict) -> dict:
    template = operation.path
    filled = fill_path(template, world).split("/")
    names = [part.strip("{}") for part in template.split("/")]
    return {name: value for name, value, part in zip(names, filled, template.split("/")) if part.startswith("{")}


@pytest.fixture
def connection_kept_open():
    """The real WSGI handler closes old connections around each request, as Django's test client does not: inside
    the test's transaction that would close the PostgreSQL connection mid-test."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_api_answers_as_its_schema_says(admin_user, connection_kept_open):
    world = api_world(admin_user)
    headers = {"Authorization": f"Token {Token.objects.create(user=admin_user).key}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    # Reads first, so writes (merges, removals) do not take the data away from under them.
    operations.sort(key=lambda op: (op.method.upper() != "GET", op.path, op.method))
    failures: dict[str, str] = {}
    sent = {op.label: run_operation(op, path_parameters=path_values(op, world), headers=headers, failures=failures)
            for op in operations}
    print(f"\n{len(operations)} operations, {sum(sent.values())} requests, {len(failures)} failures")
    assert len(operations) > 40
    assert sorted(failures) == [], "\n".join(sorted(failures))

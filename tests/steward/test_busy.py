"""A write that gave up waiting for the database's lock answers 503 with Retry-After, on pages and API alike."""

import pytest
from django.db import OperationalError

from steward.api.exceptions import exception_handler
from steward.middleware import BusyDatabaseMiddleware

pytestmark = pytest.mark.django_db


def test_busy_database_middleware_answers_503_with_retry_after_for_a_page(rf, curator):
    request = rf.post("/entity-types/")
    request.user = curator
    response = BusyDatabaseMiddleware(lambda r: None).process_exception(request, OperationalError("database is locked"))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"busy with another write" in response.content


def test_busy_database_middleware_leaves_other_database_errors_alone(rf, curator):
    request = rf.post("/entity-types/")
    request.user = curator
    assert BusyDatabaseMiddleware(lambda r: None).process_exception(request, OperationalError("no such table: x")) is None


def test_api_exception_handler_maps_a_lock_timeout_to_503_with_retry_after():
    response = exception_handler(OperationalError("database is locked"), {})
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.data == {"detail": "Steward's database is busy with another write. Try again in a few seconds."}

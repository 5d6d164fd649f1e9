import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_reports_database_and_broker_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "detail": connection.vendor}
    assert body["broker"]["ok"] is True


def test_healthz_is_503_when_the_database_fails(client, monkeypatch):
    from steward import health

    def broken(conn):
        return {"ok": False, "detail": "unreachable"}

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False


def test_healthz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


def test_an_api_path_with_no_route_is_a_json_404(api_for, admin_user, client_for):
    response = api_for(admin_user).get("/api/entity-types/not%20a%20slug/diagnostics/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith("Not found")
    page = client_for(admin_user).get("/no-such-page/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_time_filter_with_any_offset_python_reads_is_answered(api_for, admin_user):
    # PostgreSQL refuses offsets beyond ±15:59 that Python accepts; the filter turns the time to UTC first.
    response = api_for(admin_user).get("/api/lineage/activities/", {"since": "1800-01-14T03:31:01-17:12"})
    assert response.status_code == 200
    assert api_for(admin_user).get("/api/lineage/activities/", {"since": "0001-01-01T00:00:00+05:00"}).status_code == 400

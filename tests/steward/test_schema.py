import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_endpoint_serves_openapi(api_for, business_user):
    response = api_for(business_user).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/sources/{slug}/batches/" in schema["paths"]


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 1000


def test_swagger_ui_works_offline(client_for, business_user):
    response = client_for(business_user).get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn" not in response.content.lower()
    assert b"swagger-ui" in response.content


def test_deploy_checks_pass_with_production_settings(tmp_path):
    import os
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}, "DEBUG": "false", "SECRET_KEY": "k" * 20 + "-production-secret-0123456789abcdefghij",
           "ALLOWED_HOSTS": "steward.example.com", "STEWARD_HTTPS": "", "STEWARD_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

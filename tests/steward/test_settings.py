"""Settings come from the environment; each variable is read, defaulted and checked."""

import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

SETTINGS = Path(__file__).resolve().parents[2] / "steward" / "settings.py"
VARIABLES = [
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "STEWARD_HTTPS",
    "STEWARD_MAX_UPLOAD_MB", "STEWARD_INLINE_INGEST_MB", "STEWARD_DATA_DIR", "CSRF_TRUSTED_ORIGINS",
    "SECURE_HSTS_SECONDS", "STEWARD_RETRAIN_EVERY", "TRUST_X_FORWARDED_PROTO", "CELERY_RESULT_BACKEND",
    "AXES_FAILURE_LIMIT", "AXES_ADDRESS_FAILURE_LIMIT", "STEWARD_TRUSTED_PROXIES",
]


@pytest.fixture
def load(monkeypatch, tmp_path):
    def load_settings(**environ: str) -> dict:
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(SETTINGS))

    return load_settings


def test_settings_defaults_are_an_embedded_development_instance(load, tmp_path):
    settings = load(DEBUG="true")
    assert settings["DEBUG"] is True
    assert settings["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASES"]["default"]["NAME"] == str(tmp_path / "data" / "steward.sqlite3")
    assert settings["CELERY_TASK_ALWAYS_EAGER"] is True
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert settings["SECURE_SSL_REDIRECT"] is False
    assert settings["STEWARD_MAX_UPLOAD_BYTES"] == 200 * 1024 * 1024
    assert (settings["AXES_FAILURE_LIMIT"], settings["AXES_ADDRESS_FAILURE_LIMIT"], settings["STEWARD_TRUSTED_PROXIES"]) == (10, 10, 0)


def test_settings_require_secret_key_when_debug_is_off(load):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        load(DEBUG="false")


def test_settings_production_profile_turns_on_https_hardening(load):
    settings = load(DEBUG="false", SECRET_KEY="x" * 60, ALLOWED_HOSTS="steward.example.com,api.example.com")
    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == ["steward.example.com", "api.example.com"]
    assert settings["SECURE_SSL_REDIRECT"] and settings["SESSION_COOKIE_SECURE"] and settings["CSRF_COOKIE_SECURE"]
    assert settings["SECURE_HSTS_SECONDS"] == 31_536_000


def test_settings_read_database_url_and_broker(load):
    settings = load(DEBUG="true", DATABASE_URL="postgres://steward:pw@db.example.com:5433/steward",
                    CELERY_BROKER_URL="redis://cache:6379/1")
    database = settings["DATABASES"]["default"]
    assert (database["ENGINE"], database["HOST"], database["PORT"], database["NAME"], database["USER"]) == (
        "django.db.backends.postgresql", "db.example.com", 5433, "steward", "steward")
    assert settings["CELERY_BROKER_URL"] == "redis://cache:6379/1"
    assert settings["CELERY_TASK_ALWAYS_EAGER"] is False


def test_settings_read_limits_and_flags(load):
    settings = load(DEBUG="true", STEWARD_MAX_UPLOAD_MB="7", STEWARD_INLINE_INGEST_MB="2", STEWARD_HTTPS="true",
                    SECURE_HSTS_SECONDS="60", STEWARD_RETRAIN_EVERY="25", TRUST_X_FORWARDED_PROTO="yes",
                    CSRF_TRUSTED_ORIGINS="https://steward.example.com", AXES_ADDRESS_FAILURE_LIMIT="40",
                    STEWARD_TRUSTED_PROXIES="1")
    assert settings["STEWARD_MAX_UPLOAD_BYTES"] == 7 * 1024 * 1024
    assert settings["STEWARD_INLINE_INGEST_BYTES"] == 2 * 1024 * 1024
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SECURE_HSTS_SECONDS"] == 60
    assert settings["STEWARD_RETRAIN_EVERY"] == 25
    assert settings["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings["CSRF_TRUSTED_ORIGINS"] == ["https://steward.example.com"]
    assert (settings["AXES_ADDRESS_FAILURE_LIMIT"], settings["STEWARD_TRUSTED_PROXIES"]) == (40, 1)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        ("STEWARD_MAX_UPLOAD_MB", "lots", "STEWARD_MAX_UPLOAD_MB must be a whole number"),
        ("STEWARD_MAX_UPLOAD_MB", "0", "STEWARD_MAX_UPLOAD_MB must be at least 1"),
        ("STEWARD_RETRAIN_EVERY", "-3", "STEWARD_RETRAIN_EVERY must be at least 1"),
        ("AXES_ADDRESS_FAILURE_LIMIT", "0", "AXES_ADDRESS_FAILURE_LIMIT must be at least 1"),
    ],
)
def test_settings_refuse_bad_values(load, name, value, message):
    environ = {"DEBUG": "true", name: value}
    with pytest.raises(ImproperlyConfigured, match=message):
        load(**environ)

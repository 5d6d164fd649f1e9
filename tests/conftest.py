import pytest
from django.contrib.auth.models import AbstractUser

from accounts.roles import Role
from accounts.services import create_user
from steward.celery import app as celery_app

PASSWORD = "correct-horse-battery"


def make_user(username: str, role: str) -> AbstractUser:
    return create_user(username=username, password=PASSWORD, role=role)


@pytest.fixture(autouse=True)
def eager_celery(request):
    """Unit tests run tasks in-process; only integration tests talk to a real worker."""
    if request.node.get_closest_marker("integration"):
        yield
        return
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(scope="session", autouse=True)
def openlineage_events_are_valid():
    """Every OpenLineage event the suite stores is validated against the vendored spec as it is stored."""
    from django.db.models.signals import post_save

    from lineage.models import RunEvent
    from tests.lineage.schema_check import validate_event

    invalid: list[str] = []

    def check(sender, instance, created, **kwargs):
        if created:
            try:
                validate_event(instance.document)
            except Exception as exc:
                invalid.append(f"{instance}: {exc}")
                raise

    post_save.connect(check, sender=RunEvent, weak=False, dispatch_uid="openlineage-schema-check")
    yield invalid
    post_save.disconnect(sender=RunEvent, dispatch_uid="openlineage-schema-check")
    assert not invalid, "OpenLineage events that do not validate:\n" + "\n".join(invalid)


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """Uploads go to a fresh folder per test."""
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


@pytest.fixture
def admin_user(db):
    return make_user("alice-admin", Role.ADMIN)


@pytest.fixture
def steward(db):
    return make_user("sam-steward", Role.STEWARD)


@pytest.fixture
def curator(db):
    return make_user("carol-curator", Role.CURATOR)


@pytest.fixture
def other_curator(db):
    return make_user("chris-curator", Role.CURATOR)


@pytest.fixture
def business_user(db):
    return make_user("bob-business", Role.BUSINESS_USER)


@pytest.fixture
def engineer(db):
    return make_user("erin-engineer", Role.DATA_ENGINEER)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for(client):
    """A test client signed in as the given user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def api_for(api_client):
    def sign_in(user):
        api_client.force_authenticate(user)
        return api_client

    return sign_in


@pytest.fixture(autouse=True)
def role_groups(request):
    """Transactional tests flush the tables the role migration filled; put the groups back."""
    marker = request.node.get_closest_marker("django_db")
    if not (marker and marker.kwargs.get("transaction")):
        return
    request.getfixturevalue("transactional_db")
    from importlib import import_module

    from django.apps import apps

    import_module("accounts.migrations.0002_roles").create_roles(apps, None)


@pytest.fixture(autouse=True)
def fresh_model_caches():
    """Learners and matchers are cached per process; tests reuse primary keys, so start each test clean."""
    from curation.services.learning import forget_cached_models

    forget_cached_models()
    yield
    forget_cached_models()

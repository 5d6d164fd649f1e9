"""Permissions are cached per process under the permissions version's stamp; a role change takes effect at once."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from accounts.models import PermissionsVersion
from accounts.roles import Role
from accounts.services import create_user

pytestmark = pytest.mark.django_db


def fresh(user):
    """The user as the next request loads it: a new object, so only the process cache can remember permissions."""
    return get_user_model().objects.get(pk=user.pk)


def permission_queries(captured) -> int:
    return sum("auth_permission" in q["sql"] for q in captured.captured_queries)


def test_permissions_load_once_then_come_from_the_cache(curator):
    assert fresh(curator).has_perm("accounts.label")
    with CaptureQueriesContext(connection) as captured:
        assert fresh(curator).has_perm("accounts.label")
        assert not fresh(curator).has_perm("accounts.configure")
    assert permission_queries(captured) == 0


def test_a_role_change_takes_effect_at_the_next_request(curator):
    token = Token.objects.create(user=curator)
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT="application/json")
    url = "/api/entity-types/no-such-type/queue/next/"  # with the label capability a 404, without it a 403
    assert api.post(url).status_code == 404
    assert api.post(url).status_code == 404  # now cached
    create_user(username=curator.username, password="x-unused-pass-1", role=Role.BUSINESS_USER, exists_ok=True)
    assert api.post(url).status_code == 403
    create_user(username=curator.username, password="x-unused-pass-1", role=Role.CURATOR, exists_ok=True)
    assert api.post(url).status_code == 404
    # A role losing a capability counts as much as a user changing roles.
    Group.objects.get(name=Role.CURATOR).permissions.remove(Permission.objects.get(codename="label"))
    assert api.post(url).status_code == 403


def test_a_change_another_process_commits_is_seen_through_the_stamp(curator, business_user):
    assert fresh(curator).has_perm("accounts.label")
    # Another process moves the curator to the business user role: its signal changed the stamp there, not here.
    User = get_user_model()
    User.groups.through.objects.filter(user=curator).update(group=Group.objects.get(name=Role.BUSINESS_USER))
    assert fresh(curator).has_perm("accounts.label")  # this process's cache still holds the old set...
    PermissionsVersion.objects.filter(pk=1).update(stamp=12345)  # ...until the stamp that process wrote is read
    assert not fresh(curator).has_perm("accounts.label")
    assert fresh(curator).has_perm("accounts.file_issues")


def test_without_the_version_row_permissions_are_read_uncached(curator):
    PermissionsVersion.objects.all().delete()
    assert fresh(curator).has_perm("accounts.label")
    with CaptureQueriesContext(connection) as captured:
        assert fresh(curator).has_perm("accounts.label")
    assert permission_queries(captured) == 1

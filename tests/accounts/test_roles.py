"""The role matrix: who may reach which pages and endpoints."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from accounts.roles import ROLE_CAPABILITIES, Role
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


def test_roles_are_groups_with_their_capabilities():
    for role, capabilities in ROLE_CAPABILITIES.items():
        group = Group.objects.get(name=role)
        assert set(group.permissions.values_list("codename", flat=True)) == capabilities


@pytest.mark.parametrize("url", ["/", "/sources/", "/lineage/", "/sources/people/", "/sources/people/upload/"])
def test_anonymous_visitors_are_sent_to_login(client, url):
    source_with_fields("people")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("url", ["/api/", "/api/sources/", "/api/lineage/activities/", "/api/schema/", "/api/batches/"])
def test_anonymous_api_calls_are_refused(client, url):
    response = client.get(url, HTTP_ACCEPT="application/json")
    assert response.status_code in (401, 403)
    assert b"credentials were not provided" in response.content


def test_login_page_and_healthz_are_public(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_business_user_cannot_reach_admin_or_ingest(client_for, business_user):
    source_with_fields("people")
    client = client_for(business_user)
    assert client.get("/").status_code == 200
    assert client.get("/sources/people/").status_code == 200
    assert client.get("/sources/people/upload/").status_code == 403
    assert client.get("/admin/").status_code == 302  # admin's own login: not staff


def test_curator_cannot_reach_admin(client_for, curator):
    client = client_for(curator)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_reaches_admin(client_for, admin_user):
    assert client_for(admin_user).get("/admin/").status_code == 200


def test_business_user_cannot_create_sources_over_the_api(api_for, business_user):
    response = api_for(business_user).post("/api/sources/", {"name": "X", "key_field": "id", "fields": [{"name": "id"}]}, format="json")
    assert response.status_code == 403


def test_create_user_command_gives_exactly_one_role(db):
    call_command("create_user", "dana", role="curator", password="pw-123456789")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="dana")
    assert list(user.groups.values_list("name", flat=True)) == [Role.CURATOR]
    assert user.has_perm("accounts.label") and not user.has_perm("accounts.configure")
    assert not user.is_staff


def test_create_user_command_admin_is_staff(db):
    call_command("create_user", "root2", role="admin", password="pw-123456789")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="root2")
    assert user.is_staff and user.is_superuser


def test_token_endpoint_trades_credentials_for_a_token(client, curator):
    response = client.post("/api/auth/token/", {"username": curator.username, "password": "correct-horse-battery"},
                           content_type="application/json")
    assert response.status_code == 200
    token = response.json()["token"]
    authed = client.get("/api/sources/", HTTP_AUTHORIZATION=f"Token {token}")
    assert authed.status_code == 200


def test_token_endpoint_refuses_wrong_password(client, curator):
    response = client.post("/api/auth/token/", {"username": curator.username, "password": "nope"},
                           content_type="application/json")
    assert response.status_code == 400
    assert "Unable to log in" in response.json()["detail"]

"""Login lockout: per username and address, and per address alone against password spraying."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

SPRAYER = "203.0.113.7"
NEIGHBOUR = "198.51.100.9"


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """The token endpoint's rate limit counts in the cache, which outlives a test."""
    cache.clear()
    yield
    cache.clear()


def sign_in(client, username: str, password: str, address: str):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_spraying_many_usernames_from_one_address_locks_that_address_only(client, business_user, settings):
    limit = settings.AXES_ADDRESS_FAILURE_LIMIT
    assert limit < 15 < settings.AXES_FAILURE_LIMIT * 15  # one guess per username never trips the per-account limit
    statuses = [sign_in(client, f"victim{i}", "Summer2026!", SPRAYER).status_code for i in range(15)]
    assert statuses == [200] * (limit - 1) + [429] * (15 - limit + 1)

    refused = sign_in(client, business_user.username, PASSWORD, SPRAYER)
    assert refused.status_code == 429 and not signed_in(client)
    page = refused.content.decode()
    assert "Too many failed sign-ins came from this address" in page
    assert "Try again after" in page and "UTC" in page
    assert int(refused["Retry-After"]) > 3000  # about the hour's cool-off

    welcomed = sign_in(client, business_user.username, PASSWORD, NEIGHBOUR)
    assert welcomed.status_code == 302 and welcomed["Location"] == reverse("home") and signed_in(client)


def test_a_successful_sign_in_does_not_clear_the_address_count(client, business_user, settings):
    limit = settings.AXES_ADDRESS_FAILURE_LIMIT
    for i in range(limit - 1):
        assert sign_in(client, f"victim{i}", "guess", SPRAYER).status_code == 200
    assert sign_in(client, business_user.username, PASSWORD, SPRAYER).status_code == 302  # the sprayer's own account
    client.logout()
    assert sign_in(client, "victim-last", "guess", SPRAYER).status_code == 429


def test_one_username_is_still_locked_out_per_account_with_its_own_message(client, business_user, settings):
    settings.AXES_ADDRESS_FAILURE_LIMIT = 100
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, business_user.username, "wrong", SPRAYER).status_code == 200
    locked = sign_in(client, business_user.username, "wrong", SPRAYER)
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this username" in locked.content.decode()
    assert sign_in(client, "someone-else", "wrong", SPRAYER).status_code == 200


def test_token_endpoint_refuses_a_spraying_address_with_a_readable_429(api_client, business_user, settings):
    url = reverse("api:token")
    for i in range(15):
        api_client.post(url, {"username": f"victim{i}", "password": "Summer2026!"}, REMOTE_ADDR=SPRAYER)
    refused = api_client.post(url, {"username": business_user.username, "password": PASSWORD}, REMOTE_ADDR=SPRAYER)
    assert refused.status_code == 429 and "token" not in refused.json()
    assert refused.json()["detail"].startswith("Too many failed sign-ins came from this address")
    assert int(refused["Retry-After"]) > 3000
    granted = api_client.post(url, {"username": business_user.username, "password": PASSWORD}, REMOTE_ADDR=NEIGHBOUR)
    assert granted.status_code == 200 and granted.json()["token"]


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(client, business_user, settings):
    settings.STEWARD_TRUSTED_PROXIES = 1
    proxy = "10.0.0.2"
    for i in range(settings.AXES_ADDRESS_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": f"victim{i}", "password": "guess"}, REMOTE_ADDR=proxy,
                    HTTP_X_FORWARDED_FOR=f"1.2.3.4, {SPRAYER}")
    refused = client.post(reverse("login"), {"username": business_user.username, "password": PASSWORD},
                          REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=SPRAYER)
    assert refused.status_code == 429
    welcomed = client.post(reverse("login"), {"username": business_user.username, "password": PASSWORD},
                           REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{SPRAYER}, {NEIGHBOUR}")
    assert welcomed.status_code == 302  # the client's address is the one the proxy saw, not what it was told


def test_a_forwarded_address_that_is_not_one_falls_back_to_the_peer(rf, settings):
    from accounts.lockout import client_address

    settings.STEWARD_TRUSTED_PROXIES = 2
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip, 10.0.0.1")) == "10.0.0.2"
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{SPRAYER}, 10.0.0.1")) == SPRAYER
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.0.0.1")) == "10.0.0.2"

"""Every page has an icon: a <link rel="icon"> in each base template, and /favicon.ico for the rest."""

import pytest
from django.templatetags.static import static
from django.urls import reverse

pytestmark = pytest.mark.django_db

ICON = f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">'


def test_favicon_ico_leads_anyone_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == static("favicon.svg")
    icon = client.get(response["Location"])
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)


@pytest.mark.parametrize("url", ["/admin/", "/admin/mastering/source/", "/admin/mastering/source/add/", "/admin/login/"])
def test_admin_pages_link_the_icon(client_for, admin_user, client, url):
    page = (client if url == "/admin/login/" else client_for(admin_user)).get(url)
    assert page.status_code == 200 and ICON in page.content.decode()


def test_site_and_browsable_api_pages_link_the_icon(client, client_for, business_user):
    assert ICON in client.get(reverse("login")).content.decode()
    signed_in = client_for(business_user)
    assert ICON in signed_in.get("/").content.decode()
    assert ICON in signed_in.get("/api/sources/", HTTP_ACCEPT="text/html").content.decode()

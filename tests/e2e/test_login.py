import pytest
from playwright.sync_api import expect

from accounts.services import create_user
from mastering.demo import DEMO_USERS

pytestmark = pytest.mark.django_db(transaction=True)


def test_demo_user_signs_in_and_sees_the_home_page(page):
    username, role, password = DEMO_USERS[2]
    create_user(username=username, password=password, role=role)
    page.goto("/")
    expect(page).to_have_url("/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text(f"Welcome, {username}")
    expect(page.locator("nav.mainnav")).to_contain_text("Sources")
    expect(page.locator("nav.mainnav")).not_to_contain_text("Admin")


def test_wrong_password_shows_an_error(page):
    create_user(username="dora", password="right-password-1", role="curator")
    page.goto("/login/")
    page.fill("#id_username", "dora")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".message.error")).to_contain_text("Please enter a correct username and password")

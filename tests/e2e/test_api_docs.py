"""The API docs and the admin in a real browser: nothing the Content-Security-Policy refuses, no missing icon."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def watch(page) -> tuple[list[str], list[str]]:
    """Collect CSP violations (console) and failed requests (4xx/5xx) while the page loads."""
    violations: list[str] = []
    failures: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    page.on("response", lambda response: failures.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    return violations, failures


def test_swagger_ui_renders_within_the_content_security_policy(page, sign_in, business_user):
    sign_in(business_user)
    violations, failures = watch(page)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Steward API")
    expect(page.locator(".opblock").first).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert violations == [] and failures == []


def test_admin_pages_load_without_a_missing_favicon(page, sign_in, admin_user):
    sign_in(admin_user)
    violations, failures = watch(page)
    page.goto("/admin/")
    page.wait_for_load_state("networkidle")
    assert failures == [] and violations == []
    assert page.request.get("/favicon.ico").ok

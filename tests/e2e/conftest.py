"""Real-browser tests: Playwright driving Debian's chromium against the live test server."""

import os
import shutil

import pytest


# Playwright's sync API runs an event loop in the test thread; the tests' ORM calls are still synchronous.
# (Set for the whole run because the browser outlives single tests; the deploy check strips it again.)
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("STEWARD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        if os.environ.get("STEWARD_REQUIRE_BROWSER"):
            pytest.fail(f"No browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium).")
        pytest.skip(f"No browser at {CHROMIUM}; install Debian's chromium package to run the end-to-end tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(page):
    """Sign in through the login form, as a person would."""

    def sign_in_as(user, password: str = "correct-horse-battery"):
        page.goto("/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/")
        return page

    return sign_in_as


# Screenshots for people to look at (test-results/ is not committed); STEWARD_SCREENSHOT_DIR moves them.
SCREENSHOT_DIR = os.environ.get("STEWARD_SCREENSHOT_DIR", os.path.join("test-results", "screenshots"))
WIDE, NARROW = 1400, 390
# Rounding and a scrollbar's sliver: more than this sideways is a page that scrolls.
SCROLL_TOLERANCE = 2


def page_scroll_width(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


@pytest.fixture
def shoot(page, request):
    """Photograph the current page at 1400 and 390 px wide; at 390 px the page itself must not scroll sideways
    (tables scroll inside their own box). Returns the page width measured at 390 px."""

    def shoot_as(name: str, *, check_narrow: bool = True) -> int:
        os.makedirs(os.path.dirname(os.path.join(SCREENSHOT_DIR, name)), exist_ok=True)
        widths = {}
        for width in (WIDE, NARROW):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(50)  # let the resize handlers run
            page.screenshot(path=os.path.join(SCREENSHOT_DIR, f"{name}-{width}.png"), full_page=True)
            widths[width] = page_scroll_width(page)
        page.set_viewport_size({"width": WIDE, "height": 900})
        if check_narrow:
            assert widths[NARROW] <= NARROW + SCROLL_TOLERANCE, (
                f"{name}: the page is {widths[NARROW]} px wide at {NARROW} px; only tables may scroll sideways")
        return widths[NARROW]

    return shoot_as

"""Every page works at 390 px: the page itself never scrolls sideways (tables scroll inside their own box).

Walks every GET page of a seeded instance (the route walk of the no-GET-writes test) as a steward in a real browser,
and photographs each at 1400 and 390 px into test-results/screenshots/pages/.
"""

import re

import pytest
from playwright.sync_api import Error as PlaywrightError

from benchmarks.harden.routes import Unfillable, all_routes, fill
from benchmarks.harden.seed import seed
from tests.e2e.conftest import NARROW, SCROLL_TOLERANCE, page_scroll_width

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_page_scrolls_sideways_at_390_px(page, sign_in, shoot):
    from benchmarks.harden.seed import PASSWORD

    seeded = seed()
    urls = []
    for route in all_routes():
        if route.kind != "page" or route.template.startswith(("/admin/", "/logout", "/login", "/healthz", "/favicon")):
            continue
        try:
            urls.append(fill(route.template, seeded))
        except Unfillable:
            continue
    sign_in(seeded.users["steward"], PASSWORD)
    wide, shown = {}, 0
    for url in urls:
        try:
            response = page.goto(url)
        except PlaywrightError:  # a download or an error status without a page: nothing to lay out
            continue
        if response is None or response.status != 200 or "html" not in (response.headers.get("content-type") or ""):
            continue
        shown += 1
        name = "pages/" + (re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home")
        width = shoot(name, check_narrow=False)
        if width > NARROW + SCROLL_TOLERANCE:
            wide[url] = width
    assert shown > 20  # the walk reached the app's pages
    assert wide == {}, f"pages wider than {NARROW} px at {NARROW} px: {wide}"
    assert page_scroll_width(page) <= 1400

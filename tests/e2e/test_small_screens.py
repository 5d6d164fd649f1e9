"""Every page works at 390 px: the page itself never scrolls sideways (tables scroll inside their own box).

Walks every GET page of a seeded instance (the route walk of the no-GET-writes test) as a steward in a real browser,
and photographs each at 1400 and 390 px into test-results/screenshots/pages/.
"""

import re

import pytest

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
        # Ask first: a POST-only route or a download would leave Chromium on an error page mid-navigation.
        answer = page.context.request.get(url, max_redirects=0)
        if answer.status != 200 or "html" not in (answer.headers.get("content-type") or ""):
            continue
        response = page.goto(url)
        if response is None or response.status != 200:
            continue
        shown += 1
        name = "pages/" + (re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-") or "home")
        width = shoot(name, check_narrow=False)
        if width > NARROW + SCROLL_TOLERANCE:
            wide[url] = width
    assert shown > 20  # the walk reached the app's pages
    assert wide == {}, f"pages wider than {NARROW} px at {NARROW} px: {wide}"
    page.goto("/")
    assert page_scroll_width(page) <= 1400

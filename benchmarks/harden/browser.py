"""Browser probe: script payloads in the data, every page visited as an admin in Debian's chromium.

Seeds data whose text (source and entity type names, descriptions, record values, a record key, user names,
override values and reasons) holds script payloads, serves the app on a live server, and visits every page
route of the URL conf, every API GET route (the browsable API renders HTML) and two missing pages, counting:

  dialogs                      alert()/confirm()/prompt() that a payload managed to open (target 0)
  injected_elements            elements carrying the payloads' data-harden-xss marker: markup from the data
                               reached the DOM, whether or not CSP then stopped its script (target 0)
  javascript_links             links or sources whose URL is javascript: (target 0)
  html_responses_without_csp   HTML responses (documents, frames, htmx partials, 404 and error pages)
                               without a Content-Security-Policy header (target 0)
  server_errors                page visits answered with 5xx (target 0)
  navigation_errors            visits the browser could not complete, other than a route without a GET page
                               or a download (target 0)
  csp_violations               scripts or styles the browser refused under CSP (reported, no target)
  pages_showing_payloads       pages whose text shows a payload: the probe reached the data (no target)
"""

from __future__ import annotations

import logging
import os
import threading
import time

TARGETS = {
    "dialogs": ("==", 0),
    "injected_elements": ("==", 0),
    "javascript_links": ("==", 0),
    "html_responses_without_csp": ("==", 0),
    "server_errors": ("==", 0),
    "navigation_errors": ("==", 0),
    "pages_visited": (">=", 1),
}

MISSING_PAGES = ["/no-such-page/", "/api/no-such-endpoint/"]
SCAN = """() => ({
  shown: (document.body ? document.body.innerText : '').includes('alert(1)'),
  injected: document.querySelectorAll('[data-harden-xss]').length,
  jslinks: Array.from(document.querySelectorAll('[href],[src],[action],[formaction]')).filter(e =>
      ['href', 'src', 'action', 'formaction'].some(a => (e.getAttribute(a) || '').trim().toLowerCase().startsWith('javascript:'))).length,
})"""


def _serve():
    """The app on 127.0.0.1 with a free port, in a background thread; returns (base url, server)."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.set_app(get_wsgi_application())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def page_urls(seeded) -> list[str]:
    """Every page route and API GET route, filled with seeded ids, and two missing pages."""
    from benchmarks.harden.routes import Unfillable, all_routes, fill

    urls = []
    for route in all_routes():
        if route.kind == "api" and route.methods and "GET" not in route.methods:
            continue
        try:
            urls.append(fill(route.template, seeded))
        except Unfillable:
            continue  # the access part reports routes it cannot fill
    return urls + MISSING_PAGES


def visit(seeded, base_url: str, urls: list[str]) -> dict:
    from django.conf import settings
    from django.test import Client
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    client = Client()
    client.force_login(seeded.users["admin"])
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    counts = {"dialogs": 0, "injected_elements": 0, "javascript_links": 0, "csp_violations": 0, "server_errors": 0,
              "navigation_errors": 0, "not_pages": 0, "pages_showing_payloads": 0}
    examples: dict[str, list[str]] = {"dialogs": [], "injected": [], "without_csp": [], "server_errors": [], "csp": [], "navigation": []}
    html_urls: set[str] = set()
    without_csp: set[str] = set()
    csp_pages: set[str] = set()
    current = [""]

    def on_dialog(dialog) -> None:
        counts["dialogs"] += 1
        examples["dialogs"].append(f"{current[0]}: {dialog.type}({dialog.message!r})")
        dialog.dismiss()

    def on_response(response) -> None:
        headers = response.headers
        if "text/html" not in headers.get("content-type", ""):
            return
        path = response.url.removeprefix(base_url)
        html_urls.add(path)
        if "content-security-policy" not in headers:
            without_csp.add(f"{path} ({response.status})")

    def on_console(message) -> None:
        if "Content Security Policy" in message.text:
            counts["csp_violations"] += 1
            examples["csp"].append(f"{current[0]}: {' '.join(message.text.split())[:200]}")
            csp_pages.add(current[0])

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])
        context.set_default_timeout(15_000)

        def new_page():
            tab = context.new_page()
            tab.on("dialog", on_dialog)
            tab.on("response", on_response)
            tab.on("console", on_console)
            return tab

        page = new_page()
        for url in urls:
            current[0] = url
            try:
                response = page.goto(url, wait_until="domcontentloaded")
            except Exception as exc:
                text = " ".join(str(exc).split())
                # No page to look at: a route that takes no GET (an empty 405) or a file (the schema).
                # Its response was still checked for CSP above.
                if "ERR_HTTP_RESPONSE_CODE_FAILURE" in text or "Download is starting" in text:
                    counts["not_pages"] += 1
                else:
                    counts["navigation_errors"] += 1
                    examples["navigation"].append(f"{url}: {text[:160]}")
                page.close()  # a failed navigation can leave the tab mid-way; start the next visit clean
                page = new_page()
                continue
            if response is not None and response.status >= 500:
                counts["server_errors"] += 1
                examples["server_errors"].append(f"{url}: {response.status}")
            page.wait_for_timeout(150)  # onerror of a broken <img>, htmx partials on load: a moment after load
            found = page.evaluate(SCAN)
            counts["pages_showing_payloads"] += bool(found["shown"])
            counts["injected_elements"] += found["injected"]
            counts["javascript_links"] += found["jslinks"]
            if found["injected"] or found["jslinks"]:
                examples["injected"].append(f"{url}: {found['injected']} injected, {found['jslinks']} javascript: links")
        context.close()
        browser.close()

    return {
        "pages_visited": len(urls),
        **counts,
        "dialog_examples": examples["dialogs"][:5],
        "injected_examples": examples["injected"][:5],
        "html_responses": len(html_urls),
        "html_responses_without_csp": len(without_csp),
        "without_csp_examples": sorted(without_csp)[:8],
        "server_error_examples": examples["server_errors"][:5],
        "csp_violation_pages": len(csp_pages),
        "csp_violation_examples": [e for e in examples["csp"] if not e.startswith("/api/")][:3] + examples["csp"][:2],
        "navigation_error_examples": examples["navigation"][:5],
    }


def run() -> dict:
    """The browser part: a throwaway database seeded with payloads, a live server, chromium."""
    from benchmarks.harden.seed import seed
    from benchmarks.harden.testdb import throwaway_database
    from tests.e2e.conftest import CHROMIUM

    if not os.path.exists(CHROMIUM):
        raise RuntimeError(f"No browser at {CHROMIUM}: install Debian's chromium (apt-get install chromium).")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here stay synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # 500s are counted, not printed
    with throwaway_database():
        seeded = seed(payloads=True)
        base_url, server = _serve()
        try:
            started = time.monotonic()
            figures = visit(seeded, base_url, page_urls(seeded))
            figures["visit_seconds"] = round(time.monotonic() - started, 1)
            return figures
        finally:
            server.shutdown()
            server.server_close()

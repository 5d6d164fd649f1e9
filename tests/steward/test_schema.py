import base64
import hashlib
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_endpoint_serves_openapi(api_for, business_user):
    response = api_for(business_user).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/sources/{slug}/batches/" in schema["paths"]


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 1000


def test_swagger_ui_works_offline(client_for, business_user):
    response = client_for(business_user).get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn" not in response.content.lower()
    assert b"swagger-ui" in response.content


def test_deploy_checks_pass_with_production_settings(tmp_path):
    import os
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}, "DEBUG": "false", "SECRET_KEY": "k" * 20 + "-production-secret-0123456789abcdefghij",
           "ALLOWED_HOSTS": "steward.example.com", "STEWARD_HTTPS": "", "STEWARD_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


JAVASCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}


class _Includes(HTMLParser):
    """What a page pulls in: external scripts, styles and images, inline script and style, style attributes."""

    def __init__(self):
        super().__init__()
        self.sources: list[tuple[str, str]] = []  # (directive, url)
        self.inline: list[tuple[str, str, dict]] = []  # (directive, text, attributes)
        self.style_attributes: list[str] = []
        self._open: tuple[str, dict] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs:
            self.style_attributes.append(f"<{tag} style={attrs['style']!r}>")
        if any(name.startswith("on") for name in attrs):
            self.inline.append(("script-src", f"<{tag}> event handler", attrs))
        if tag == "script" and attrs.get("type", "text/javascript") not in JAVASCRIPT_TYPES:
            return  # a data block (application/json): never run, so no policy applies
        if tag == "script":
            if attrs.get("src"):
                self.sources.append(("script-src", attrs["src"]))
            else:
                self._open = ("script-src", attrs)
        elif tag == "style":
            self._open = ("style-src", attrs)
        elif tag == "link" and "stylesheet" in attrs.get("rel", ""):
            self.sources.append(("style-src", attrs["href"]))
        elif tag == "link" and "icon" in attrs.get("rel", "") or tag == "img":
            self.sources.append(("img-src", attrs.get("href") or attrs.get("src")))

    def handle_data(self, data):
        if self._open:
            directive, attrs = self._open
            self.inline.append((directive, data, attrs))
            self._open = None

    def handle_endtag(self, tag):
        if self._open and tag in ("script", "style"):  # an empty element
            directive, attrs = self._open
            self.inline.append((directive, "", attrs))
            self._open = None


def _policy(header: str) -> dict[str, list[str]]:
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {words[0]: words[1:] for words in directives}


def _admits(policy: dict[str, list[str]], directive: str, url: str) -> bool:
    allowed = policy.get(directive, policy.get("default-src", []))
    parsed = urlsplit(url)
    same_origin = not parsed.scheme and not parsed.netloc  # a path on this server
    return (same_origin and "'self'" in allowed) or (parsed.scheme == "data" and "data:" in allowed)


def _admits_inline(policy: dict[str, list[str]], directive: str, text: str, attrs: dict) -> bool:
    allowed = policy.get(directive, policy.get("default-src", []))
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    nonce = attrs.get("nonce")
    return f"'sha256-{digest}'" in allowed or (nonce is not None and f"'nonce-{nonce}'" in allowed)


@pytest.mark.parametrize("url", ["/api/docs/"])
def test_api_pages_keep_to_the_content_security_policy(client_for, business_user, url):
    client = client_for(business_user)
    page = client.get(url, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    policy = _policy(page["Content-Security-Policy"])
    includes = _Includes()
    includes.feed(page.content.decode())
    assert includes.sources, "the page includes nothing: the parser is broken"
    refused = [f"{directive} {src}" for directive, src in includes.sources if not _admits(policy, directive, src)]
    refused += [f"inline {directive}: {text.strip()[:60]!r}" for directive, text, attrs in includes.inline
                if not _admits_inline(policy, directive, text, attrs)]
    if "'unsafe-inline'" not in policy.get("style-src", []):
        refused += includes.style_attributes
    assert not refused, f"{url} includes what its Content-Security-Policy refuses: {refused}"
    for directive, src in includes.sources:  # and what it includes is there, with the right type
        if directive == "img-src":
            continue
        included = client.get(src)
        assert included.status_code == 200, src
        expected = "javascript" if directive == "script-src" else "text/css"
        assert expected in included["Content-Type"], (src, included["Content-Type"])

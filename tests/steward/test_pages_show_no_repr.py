"""No page shows Python internals: every GET page of a seeded instance (demo data, a mastering run, labels, edits),
read as a steward and as an admin, is searched for reprs in its visible text: `{'`, `None`, `[(`.

The walk is the one the no-GET-writes test uses (benchmarks.harden.routes), so a new page is checked without listing it.
"""

import re
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client

from benchmarks.harden.routes import Unfillable, all_routes, fill
from benchmarks.harden.seed import seed
from mastering.models import Job

pytestmark = pytest.mark.django_db

REPR = re.compile(r"\{'|\[\(|\bNone\b")
# Job, lineage and model pages (made readable by branch provenance, issue 18) are walked in a test of their own.
PROVENANCE_PAGES = re.compile(r"^/(jobs|lineage)/|/models?/")


class VisibleText(HTMLParser):
    """The text a person sees: no script, style or template bodies, no attributes."""

    HIDDEN = {"script", "style", "template", "noscript"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def reprs_in(html: str) -> list[str]:
    text = visible_text(html)
    return [text[max(0, m.start() - 40): m.end() + 40] for m in REPR.finditer(text)]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    from steward.celery import app as celery_app

    eager, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    with django_db_blocker.unblock(), transaction.atomic():
        data = seed()
        yield data
        transaction.set_rollback(True)
    celery_app.conf.task_always_eager = eager


def page_urls(seeded) -> list[str]:
    urls = []
    for route in all_routes():
        if route.kind != "page" or route.template.startswith("/admin/"):
            continue
        try:
            urls.append(fill(route.template, seeded))
        except Unfillable:
            continue
    return urls


def every_job_and_activity() -> list[str]:
    """The route walk fills one id per page; jobs and activities differ by kind, so each of the seed's is read."""
    from lineage.models import Activity

    urls = [f"/lineage/activities/{pk}/" for pk in Activity.objects.values_list("pk", flat=True)]
    for pk in Job.objects.values_list("pk", flat=True):
        urls += [f"/jobs/{pk}/", f"/jobs/{pk}/lineage/"]
    return urls


def offenders(seeded, *, provenance: bool) -> dict[str, list[str]]:
    found = {}
    urls = [u for u in page_urls(seeded) if bool(PROVENANCE_PAGES.search(u)) == provenance]
    if provenance:
        urls = list(dict.fromkeys(urls + every_job_and_activity()))
    assert len(urls) > (3 if provenance else 25)  # the walk reaches the app
    for role in ("steward", "admin"):
        client = Client(raise_request_exception=False)
        client.force_login(seeded.users[role])
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", "") or getattr(response, "streaming", False):
                continue
            if hits := reprs_in(response.content.decode()):
                found[f"{role} GET {url}"] = hits[:3]
    return found


def test_no_page_shows_a_python_repr(seeded):
    assert offenders(seeded, provenance=False) == {}


def test_no_provenance_page_shows_a_python_repr(seeded):
    assert offenders(seeded, provenance=True) == {}


def test_the_check_sees_a_repr():
    assert reprs_in("<p>{'predicate': 'x'}</p>") and reprs_in("<td>None</td>") and reprs_in("<p>[('a', 1)]</p>")
    assert not reprs_in('<script>var a = {\'x\': None};</script><p title="None">Nobody</p>')


def test_yes_no_filters_offer_any_yes_no():
    from curation.filters import LabelFilter
    from mastering.filters import EntityFilter

    for html in (str(LabelFilter({}).form["revoked"]), str(EntityFilter({}).form["pinned"])):
        assert ">Any<" in html and ">Yes<" in html and ">No<" in html and "Unknown" not in html
    assert LabelFilter({"revoked": "true"}).form.is_valid()

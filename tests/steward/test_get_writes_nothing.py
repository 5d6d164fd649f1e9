"""No GET request writes: every page and API route, read by every role, leaves the database as it was.

Housekeeping that used to run on reads (the dead-batch sweep on five batch pages and APIs, claiming a pair when the
labeling page was shown) now runs on beat's schedule or on POST. The one write a GET may still cause is Django's
own: a session saved (django_session) when the request changed it, which signing in and out do, not reading.
"""

import re

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks.harden.routes import Unfillable, all_routes, fill
from benchmarks.harden.seed import seed

pytestmark = pytest.mark.django_db

WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
BOOKKEEPING_TABLES = {"django_session"}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module, in a transaction rolled back at its end (its jobs run in-process)."""
    from steward.celery import app as celery_app

    eager, celery_app.conf.task_always_eager = celery_app.conf.task_always_eager, True
    with django_db_blocker.unblock(), transaction.atomic():
        data = seed()
        yield data
        transaction.set_rollback(True)
    celery_app.conf.task_always_eager = eager


def writes_of(client: Client, url: str) -> list[str]:
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        transaction.set_rollback(True)
    written = [WRITE.match(query["sql"]) for query in queries.captured_queries]
    return [f"{match.group(1).split()[0]} {match.group(2)}" for match in written
            if match and match.group(2) not in BOOKKEEPING_TABLES]


def test_no_get_request_writes(seeded):
    urls = []
    for route in all_routes():
        if route.template.startswith("/admin/") or (route.kind == "api" and "GET" not in route.methods):
            continue
        try:
            urls.append(fill(route.template, seeded))
        except Unfillable:
            continue
    assert len(urls) > 50  # the walk reaches the app, not only a login page
    offenders = {}
    for role, user in seeded.users.items():
        client = Client(raise_request_exception=False)
        client.force_login(user)
        for url in urls:
            if written := writes_of(client, url):
                offenders[f"{role} GET {url}"] = written
    assert offenders == {}


def test_the_check_sees_a_write(seeded, monkeypatch):
    # The walk would notice a page that writes: make the jobs page write, as the batch pages once did.
    from mastering import selectors
    from mastering.models import Job

    real = selectors.list_jobs

    def writing_list_jobs():
        Job.objects.filter(pk=-1).update(stage="touched")
        return real()

    monkeypatch.setattr(selectors, "list_jobs", writing_list_jobs)
    client = Client()
    client.force_login(seeded.users["steward"])
    assert writes_of(client, "/jobs/") == ["UPDATE mastering_job"]

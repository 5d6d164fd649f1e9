"""Diagnostics charts drawn by the vendored Chart.js under the strict CSP, with their numbers in a table beside them."""

import pytest
from playwright.sync_api import expect

from mastering import services
from mastering.models import Job, ScoredPair
from tests.conftest import make_user
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def test_diagnostics_draws_its_charts_with_chartjs_and_lists_the_numbers(page, sign_in, shoot):
    entity_type, _ = trained_entity_type(12)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    compared = ScoredPair.objects.filter(job__entity_type=entity_type, score__isnull=False).count()
    assert compared
    violations = []
    page.on("console", lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None)
    sign_in(make_user("dan-steward", "steward"))
    page.goto(f"/curation/{entity_type.slug}/diagnostics/")
    expect(page.locator("figure[data-drawn=chartjs]")).to_have_count(2)
    expect(page.locator("figure[data-drawn=chartjs] canvas")).to_have_count(2)
    expect(page.locator("figure[data-chart] svg")).to_have_count(0)  # the server-drawn fallback gave way
    counts = [int(c) for c in page.locator("[data-histogram-table] tbody td.num").all_inner_texts()]
    assert len(counts) == 20 and sum(counts) == compared
    assert violations == []
    shoot("diagnostics")

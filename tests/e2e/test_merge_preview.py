"""Merge with a safety net: ranked search results each shown once, a preview of the golden record and members after
the merge (nothing written), then a confirmation that does it."""

import re

import pytest
from playwright.sync_api import expect

from lineage.models import Activity
from mastering import services
from mastering.models import Entity, Job, Membership
from tests.conftest import make_user
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def test_curator_merges_with_a_preview_and_a_confirmation(page, sign_in, shoot):
    entity_type, _ = trained_entity_type(12)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    entity = Membership.objects.get(record__key="p0").entity
    other = Membership.objects.get(record__key="p1").entity
    assert other != entity
    sign_in(make_user("mia-curator", "curator"))
    page.goto(entity.get_absolute_url())
    merge = page.locator("form", has=page.locator('input[name=action][value=merge]'))
    merge.locator("input[name=q]").press_sequentially("an")  # many golden values contain it
    choices = merge.locator(".choices input[type=radio]")
    expect(choices.first).to_be_visible()
    values = [choices.nth(i).get_attribute("value") for i in range(choices.count())]
    assert len(values) == len(set(values)) > 1, "each entity once"
    assert str(entity.pk) not in values
    scores = [int(s) for s in re.findall(r"(\d+)% alike by model v1", merge.locator(".choices").inner_text())]
    assert len(scores) == len(values) and scores == sorted(scores, reverse=True)

    merge.locator(f'input[type=radio][value="{other.pk}"]').check()
    merge.locator("input[name=reason]").fill("same person after all")
    activities = Activity.objects.count()
    merge.get_by_role("button", name="Preview the merge").click()
    expect(page.locator("[data-preview-summary]")).to_contain_text("Merge 1 entity (1 record) into this one")
    after = page.locator("[data-preview-entity]").first
    expect(after.locator("li.joins")).to_contain_text("person-src:p1")
    expect(after.locator("h3").nth(1)).to_have_text("Members after (3)")
    expect(after.locator("tbody tr")).to_have_count(3)
    # The preview wrote nothing.
    assert Activity.objects.count() == activities
    assert Membership.objects.get(record__key="p1").entity_id == other.pk
    shoot("merge-preview")

    page.get_by_role("button", name="Confirm merge").click()
    expect(page.locator(".message.success")).to_contain_text("Merged")
    assert Membership.objects.get(record__key="p1").entity_id == entity.pk
    assert Entity.objects.get(pk=other.pk).retired_at is not None

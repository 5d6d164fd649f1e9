import pytest
from playwright.sync_api import expect

from mastering import services
from mastering.models import Job, Membership
from tests.conftest import make_user
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def test_curator_splits_a_record_out_and_the_next_run_keeps_the_split(page, sign_in):
    entity_type, _ = trained_entity_type(12)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    entity = Membership.objects.get(record__key="p0").entity
    assert Membership.objects.get(record__key="p0-dup").entity == entity
    curator = make_user("una-curator", "curator")
    sign_in(curator)
    page.goto(entity.get_absolute_url())
    split = page.locator("#split-form")
    split.get_by_label("person-src:p0-dup").check()
    split.locator("input[name=reason]").fill("different person, same name")
    split.get_by_role("button", name="Preview the split").click()
    expect(page.locator("[data-preview-summary]")).to_contain_text("Split 1 record out into a new entity")
    assert Membership.objects.get(record__key="p0-dup").entity == entity  # a preview writes nothing
    page.get_by_role("button", name="Confirm split").click()
    expect(page.locator(".message.success")).to_contain_text("Split 1 record")
    new_entity = Membership.objects.get(record__key="p0-dup").entity
    assert new_entity != entity

    page.goto(f"/entities/{entity_type.slug}/")
    page.get_by_role("button", name="Run mastering").click()
    expect(page.locator("#job-status .badge")).to_have_text("Done", timeout=30_000)
    assert Membership.objects.get(record__key="p0-dup").entity_id == new_entity.pk
    assert Membership.objects.get(record__key="p0").entity_id == entity.pk

    page.goto(f"/curation/{entity_type.slug}/entities/{entity.pk}/history/")
    expect(page.locator("main")).to_contain_text("different person, same name")
    expect(page.locator("main")).to_contain_text("una-curator")

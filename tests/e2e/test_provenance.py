"""A business user follows a golden value down to the file row it came from, sees which run and model placed the
record and which labels taught that model, and opens the entity as it was before the last run, in a real browser."""

import io
import re

import pytest
from playwright.sync_api import expect

from mastering import services
from mastering.models import Entity, Job, Membership, SourceRecord
from tests.conftest import make_user
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def test_business_user_follows_a_golden_value_down_to_its_file_row(page, sign_in):
    entity_type, source = trained_entity_type(12)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    entity = Membership.objects.get(record__key="p0").entity
    # A later batch changes a member, and a second run takes it in: the entity now has a "before the last run".
    services.receive_table(source=source, stream=io.BytesIO(b"id,first,last,city\np0-dup,adx,lovelace,york\n"),
                           file_name="fixes.csv", user=None, channel="command", background=False)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    last_run = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).latest("pk")
    entity = Entity.objects.get(pk=entity.pk)
    chosen = SourceRecord.objects.get(pk=entity.provenance["last"]["record"])
    model = last_run.model  # the same version: no training in between
    console = []
    page.on("console", lambda message: console.append(message.text))
    sign_in(make_user("bea-business", "business user"))

    page.goto(entity.get_absolute_url())
    page.locator("tr", has=page.get_by_role("rowheader", name="last")).get_by_role("link", name="where from?").click()
    expect(page.locator("#golden-value")).to_have_text(entity.golden["last"])
    expect(page.locator(".story")).to_contain_text("most_frequent")
    expect(page.locator(".story")).to_contain_text(f"{chosen.changed_batch.file_name}, row {chosen.file_row}")
    expect(page.locator("#lineage-graph")).to_have_attribute("data-drawn", re.compile(r"\d+"))  # cytoscape ran under the CSP
    page.locator("#file-row").click()
    expect(page).to_have_url(re.compile(rf"/records/{re.escape(chosen.key)}/#version-{chosen.version}$"))
    version_row = page.locator(f"#version-{chosen.version}")
    expect(version_row).to_contain_text(str(chosen.file_row))
    expect(version_row).to_contain_text(f"#{chosen.changed_batch_id}")

    page.goto(entity.get_absolute_url())
    page.locator("main").get_by_role("link", name="Lineage", exact=True).click()
    placed_by = Membership.objects.select_related("job__model").get(record=chosen).job  # the run that put it here
    member = page.locator(f"#member-{chosen.pk}")
    expect(member).to_contain_text(f"in run #{placed_by.pk} (model v{placed_by.model.version})")
    page.get_by_role("link", name=f"{model.label_count} labels").first.click()
    expect(page).to_have_url(re.compile(rf"taught={model.version}"))
    expect(page.locator("main")).to_contain_text("p0-dup")

    page.goto(f"/entities/{entity_type.slug}/{entity.pk}/lineage/")
    page.get_by_role("link", name="As it was before the last run").click()
    expect(page).to_have_url(re.compile(r"/history/\?change=\d+"))
    expect(page.locator("main")).to_contain_text("Golden record then")
    assert not [line for line in console if "Content Security Policy" in line], console

"""A curator sees every member of a large entity, with the golden values' origins marked in place."""

import pytest
from playwright.sync_api import expect

from mastering import services
from mastering.services import entities as entity_services
from mastering.models import Entity, Job, Membership
from tests.conftest import make_user
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def twelve_member_entity():
    """Master 9 people (14 records), then merge entities until one holds 12 members."""
    entity_type, _ = trained_entity_type(9)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    steward = make_user("merge-steward", "steward")
    entities = list(Entity.objects.filter(entity_type=entity_type, retired_at__isnull=True).order_by("created_at", "id"))
    survivor, others, size = entities[0], [], entities[0].memberships.count()
    for other in entities[1:]:
        if size >= 12:
            break
        n = other.memberships.count()
        if size + n <= 12:
            others.append(other)
            size += n
    entity_services.merge_entities(survivor=survivor, others=others, user=steward, reason="test: one big entity")
    assert Membership.objects.filter(entity=survivor).count() == 12
    return survivor


def test_curator_sees_every_member_of_a_twelve_member_entity(page, sign_in, shoot):
    entity = twelve_member_entity()
    members = list(Membership.objects.filter(entity=entity).select_related("record__source"))
    sign_in(make_user("tess-curator", "curator"))
    page.goto(entity.get_absolute_url())
    table = page.locator(".members-table")
    expect(page.locator("[data-scroll-cue]")).to_contain_text("12 members")
    heads = table.locator("th.member-head")
    expect(heads).to_have_count(12)

    # Each member's column can be brought into view, and then it is not hidden under the sticky columns.
    golden_col = table.locator("thead th.sticky-golden")
    for membership in members:
        head = table.locator(f'th.member-head[data-member="{membership.record.source.slug}:{membership.record.key}"]')
        head.scroll_into_view_if_needed()
        expect(head).to_be_in_viewport()
        head_box, golden_box = head.bounding_box(), golden_col.bounding_box()
        assert head_box["x"] >= golden_box["x"] + golden_box["width"] - 1, "a member column is under the golden column"

    # The sticky columns stay while the members scroll.
    wrap = page.locator("[data-scroll-wrap]")
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth"), "twelve members fit without scrolling: no cue to test"
    expect(page.locator("[data-scroll-cue] .scroll-cue-hint")).to_be_visible()
    wrap.evaluate("w => { w.scrollLeft = 0; }")
    x_before = golden_col.bounding_box()["x"]
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    assert abs(golden_col.bounding_box()["x"] - x_before) < 1

    # Where a golden value came from a record, that member's cell is marked in its row.
    first_row = table.locator("tbody tr").first
    expect(first_row.locator("th")).to_have_text("First")
    expect(first_row.locator("td.chosen .chosen-mark")).to_have_count(1)
    wrap.evaluate("w => { w.scrollLeft = 0; }")
    shoot("entity-12-members")

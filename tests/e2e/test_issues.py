import pytest
from playwright.sync_api import expect

from feedback import services as feedback_services
from feedback.models import DataIssue
from mastering import services
from mastering.models import Job, Membership
from tests.conftest import make_user
from tests.factories import trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def test_business_user_reports_a_golden_value_and_a_steward_resolves_a_wrong_merge_with_a_split(page, sign_in):
    entity_type, _ = trained_entity_type(12)
    services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    entity = Membership.objects.get(record__key="p0").entity
    reporter, steward = make_user("bea-business", "business user"), make_user("stan-steward", "steward")

    sign_in(reporter)
    page.goto(entity.get_absolute_url())
    page.locator("tr", has=page.locator("th", has_text="city")).get_by_role("link", name="Report").click()
    expect(page.locator("main")).to_contain_text("city of Person")
    page.get_by_label("Title").fill("City is out of date")
    page.get_by_label("What it should be").fill("lisbon")
    page.get_by_role("button", name="File the issue").click()
    expect(page.locator(".message.success")).to_contain_text("filed")
    filed = DataIssue.objects.get(title="City is out of date")
    assert (filed.kind, filed.target, filed.attribute.name, filed.entity_id) == ("wrong_value", "value", "city", entity.pk)

    merged = feedback_services.file_issue(
        reporter=reporter, title="Two different people", kind=DataIssue.Kind.WRONGLY_MERGED,
        target={"source": "person-src", "key": "p0", "other_source": "person-src", "other_key": "p0-dup"})
    page.context.clear_cookies()
    sign_in(steward)
    page.goto(merged.get_absolute_url())
    resolve = page.locator("#resolve-form")
    expect(resolve.get_by_label("Person-Src:p0-dup")).to_be_checked()
    resolve.locator("select[name=action]").select_option("split")
    resolve.get_by_role("button", name="Resolve").click()
    expect(page.locator(".message.success")).to_contain_text("Issue resolved")
    expect(page.locator("#issue-status")).to_have_text("Resolved")
    expect(page.locator("#issue-actions")).to_contain_text("Not a match")
    assert Membership.objects.get(record__key="p0-dup").entity_id != entity.pk

    page.context.clear_cookies()
    sign_in(reporter)
    expect(page.locator("#bell-count")).to_have_text("1")

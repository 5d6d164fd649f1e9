"""A steward uploads a table in the browser: preview, confirm, the batch, then the records it wrote."""

import pytest
from playwright.sync_api import expect

from mastering.models import SourceRecord
from tests.conftest import make_user
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = b"id,name,age\n1,Ada Lovelace,36\n2,Alan Turing,41\n"
BAD = b"id,name,age\n3,Grace Hopper,eighty-five\n4,,50\n"


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string!", age="integer")


def choose_file(page, name: str, content: bytes) -> None:
    page.set_input_files("#id_file", files=[{"name": name, "mimeType": "text/csv", "buffer": content}])
    page.click("text=Check the file")


def test_upload_preview_confirm_and_see_the_records(page, sign_in, people):
    sign_in(make_user("stella", "steward"))
    page.goto("/sources/people/")
    expect(page.locator("#record-table")).to_contain_text("No records")
    page.click("text=Upload a table")

    choose_file(page, "people.csv", GOOD)
    expect(page.locator("h1")).to_have_text("people.csv")
    expect(page.locator("main")).to_contain_text("no problems found")
    page.click("button:has-text('Ingest')")

    expect(page.locator("#batch-status")).to_contain_text("Succeeded")
    expect(page.locator("#batch-status dl.props").first).to_contain_text("2")
    page.click("text=See the records it wrote")
    expect(page.locator("main")).to_contain_text("Only the records batch")
    expect(page.locator("#record-table")).to_contain_text("Ada Lovelace")
    expect(page.locator("#record-table")).to_contain_text("Alan Turing")
    assert SourceRecord.objects.count() == 2


def test_a_bad_file_shows_its_problems_and_writes_nothing(page, sign_in, people):
    sign_in(make_user("stella", "steward"))
    page.goto("/sources/people/upload/")
    choose_file(page, "bad.csv", BAD)
    expect(page.locator("main")).to_contain_text("2 problems")
    expect(page.locator("main")).to_contain_text("eighty-five")
    page.click("button:has-text('Ingest')")

    expect(page.locator("#batch-status")).to_contain_text("Rejected")
    expect(page.locator("#batch-status")).to_contain_text("Nothing was written")
    expect(page.locator("#problems")).to_contain_text("is required but empty")
    assert SourceRecord.objects.count() == 0


def test_a_file_over_the_limit_is_refused_before_it_is_sent(page, sign_in, people, settings):
    settings.STEWARD_MAX_UPLOAD_BYTES = 1024 * 1024
    sign_in(make_user("stella", "steward"))
    page.goto("/sources/people/upload/")
    expect(page.locator("main")).to_contain_text("Up to 1 MB")
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    choose_file(page, "big.csv", b"id,name,age\n" + b"1,Ada Lovelace,36\n" * 70_000)
    message = page.eval_on_selector("#id_file", "input => input.validationMessage")
    assert posts == []  # the browser kept the file: nothing was sent
    assert "larger than the 1 MB limit" in message
    choose_file(page, "people.csv", GOOD)  # a file within the limit clears the refusal
    expect(page.locator("h1")).to_have_text("people.csv")

import pytest
from playwright.sync_api import expect

from curation.models import Label
from tests.conftest import make_user
from tests.factories import entity_type_with_records, make_pairs

pytestmark = pytest.mark.django_db(transaction=True)


def current_pair(page) -> str:
    card = page.locator("#queue .pair-card[data-pair]")
    expect(card).to_be_visible()
    return card.get_attribute("data-pair")


def test_curator_labels_five_pairs_with_the_keyboard_and_undoes_one(page, sign_in):
    entity_type, source = entity_type_with_records(10)
    make_pairs(entity_type, source, 14)
    curator = make_user("kim-curator", "curator")
    sign_in(curator)
    page.goto(f"/curation/{entity_type.slug}/queue/")
    expect(page.locator("h1")).to_have_text("Same person?")
    seen = []
    for key in ["y", "n", "u", "y", "n"]:
        pair = current_pair(page)
        seen.append(pair)
        page.keyboard.press(key)
        expect(page.locator("#queue .pair-card")).not_to_have_attribute("data-pair", pair)
    assert len(set(seen)) == 5
    answers = list(Label.objects.filter(curator=curator).order_by("id").values_list("answer", flat=True))
    assert answers == ["match", "distinct", "unsure", "match", "distinct"]
    assert all(label.seconds_spent is not None for label in Label.objects.filter(curator=curator))

    page.keyboard.press("p")
    expect(page.locator("#queue .pair-card")).to_have_attribute("data-pair", seen[-1])
    assert Label.objects.active().filter(curator=curator).count() == 4
    page.keyboard.press("y")
    expect(page.locator("#queue .pair-card")).not_to_have_attribute("data-pair", seen[-1])
    assert Label.objects.active().get(pair_id=int(seen[-1])).answer == "match"

    page.keyboard.press("?")
    expect(page.locator("#key-help")).to_be_visible()
    expect(page.locator("#key-help")).to_contain_text("undo your last answer")
    page.keyboard.press("Escape")
    expect(page.locator("#key-help")).to_be_hidden()

"""The labeling card as a curator reads it: differences letter by letter, missing values marked, why the pair is
asked, the score in words, labels instead of field names, and an undo that says what it undid."""

import pytest
from playwright.sync_api import expect

from curation.models import CandidatePair, Label
from mastering.models import SourceRecord
from tests.conftest import make_user
from tests.factories import SourceRecordFactory, trained_entity_type

pytestmark = pytest.mark.django_db(transaction=True)


def test_curator_labels_a_pair_with_character_level_differences(page, sign_in, shoot):
    entity_type, source = trained_entity_type(12)
    # A pair nobody labelled yet: a typo in the first name, and one side's city missing (unlike a different value).
    left = SourceRecord.objects.get(source=source, key="p0")
    right = SourceRecordFactory(source=source, key="p0-typo", data={"id": "p0-typo", "first": "adx", "last": "lovelace", "city": ""})
    CandidatePair.objects.create(entity_type=entity_type, left_id=left.pk, right_id=right.pk, priority=-1, answers_needed=1,
                                 origin=CandidatePair.Origin.ACTIVE_LEARNING)
    curator = make_user("lena-curator", "curator")
    sign_in(curator)
    page.goto(f"/curation/{entity_type.slug}/queue/")
    card = page.locator("#queue .pair-card[data-pair]")
    expect(card).to_be_visible()
    # ada and adx: only the changed letter is marked.
    first = card.locator('tr[data-attribute="first"]')
    expect(first.locator("th")).to_have_text("First")
    expect(first.locator("mark.d-changed")).to_have_text(["a", "x"])
    city = card.locator('tr[data-attribute="city"]')
    expect(city).to_have_class("one-missing")
    expect(city.locator(".missing-value")).to_have_text("missing")
    expect(city.locator("mark")).to_have_count(0)
    # Why it is asked: queued before any model existed, so it says cold start, not "model unsure".
    expect(card.locator("[data-reason]")).to_have_text("Uncertain (cold start)")
    expect(card.locator(".why-asked")).to_contain_text("before any model was trained")
    # The score in words, with the threshold; no bare negative numbers.
    expect(card.locator("[data-score]")).to_contain_text("likely the same")
    expect(card.locator("[data-score]")).to_contain_text("threshold")
    reading = card.locator('tr[data-attribute="last"] td').last
    expect(reading).to_have_text("counts toward a match")
    expect(page.locator("[data-quality]")).to_be_visible()
    shoot("labeling-card")

    pair = card.get_attribute("data-pair")
    page.keyboard.press("y")
    expect(page.locator("#queue .pair-card")).not_to_have_attribute("data-pair", pair)
    assert Label.objects.active().get(pair_id=int(pair), curator=curator).answer == "match"
    page.keyboard.press("p")
    expect(page.locator("#queue .message")).to_contain_text(f"Took back your answer “Match” on pair {pair}")
    expect(page.locator("#queue .pair-card")).to_have_attribute("data-pair", pair)
    assert not Label.objects.active().filter(pair_id=int(pair), curator=curator).exists()

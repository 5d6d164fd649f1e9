"""The labeling page: showing it (GET) claims nothing; the card asks for its pair by POST as it loads."""

import pytest
from django.urls import reverse

from curation.models import CandidatePair
from tests.factories import entity_type_with_records, make_pairs

pytestmark = pytest.mark.django_db


def test_showing_the_page_claims_nothing_and_its_card_fetches_a_pair_by_post(client_for, curator):
    entity_type, source = entity_type_with_records(8)
    make_pairs(entity_type, source, 3)
    client = client_for(curator)
    url = reverse("curation:queue", args=[entity_type.slug])

    page = client.get(url).content.decode()
    assert "Fetching your next pair" in page and 'hx-trigger="load"' in page and "data-pair=" not in page
    assert not CandidatePair.objects.filter(claimed_by__isnull=False).exists()

    card = client.post(url, {}, HTTP_HX_REQUEST="true").content.decode()
    held = CandidatePair.objects.get(claimed_by=curator)
    assert f'data-pair="{held.pk}"' in card

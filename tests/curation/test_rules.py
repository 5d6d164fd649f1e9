"""Who may revoke a label and undo an answer: curation/rules.py, enforced by the services, shown by pages and API."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts.roles import Role
from curation import services
from curation.models import Label
from lineage.models import Activity
from steward.errors import NotAllowed
from tests.factories import entity_type_with_records, make_pairs

pytestmark = pytest.mark.django_db


@pytest.fixture
def labels(curator, other_curator):
    """One queue answer each from two curators."""
    entity_type, source = entity_type_with_records(8)
    make_pairs(entity_type, source, 4)
    answered = []
    for person in (curator, other_curator):
        pair = services.claim_next_pair(curator=person, entity_type=entity_type)
        answered.append(services.answer_pair(pair=pair, curator=person, answer=Label.Answer.MATCH))
    return entity_type, answered[0], answered[1]


def test_revoke_label_refuses_a_curator_who_did_not_give_it(labels, curator):
    _, _, theirs = labels
    with pytest.raises(NotAllowed, match="Only its curator or a steward can revoke a label."):
        services.revoke_label(label=theirs, by=curator, reason="looks wrong")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert not Activity.objects.filter(summary__startswith="Revoked").exists()


def test_revoke_label_admits_its_curator_and_a_steward(labels, curator, steward):
    _, mine, theirs = labels
    assert services.revoke_label(label=mine, by=curator, reason="misclicked").revoked_by == curator
    assert services.revoke_label(label=theirs, by=steward, reason="settled").revoked_by == steward


def test_revoke_over_the_api_is_403_for_another_curator_before_reading_the_body(labels, api_for, curator):
    _, _, theirs = labels
    response = api_for(curator).post(f"/api/labels/{theirs.pk}/revoke/", {}, format="json")
    assert response.status_code == 403 and response.json()["detail"] == "Only its curator or a steward can revoke a label."


def test_label_list_offers_revoke_only_where_the_rule_allows(labels, client_for, curator, business_user):
    entity_type, mine, theirs = labels
    page = client_for(curator).get(reverse("curation:label-list", args=[entity_type.slug])).content.decode()
    assert reverse("curation:label-revoke", args=[entity_type.slug, mine.pk]) in page
    assert reverse("curation:label-revoke", args=[entity_type.slug, theirs.pk]) not in page
    browsing = client_for(business_user).get(reverse("curation:label-list", args=[entity_type.slug])).content.decode()
    assert "/revoke/" not in browsing


def test_revoking_another_curators_label_on_the_page_is_refused_with_a_message(labels, client_for, curator):
    entity_type, mine, theirs = labels
    client = client_for(curator)
    refused = client.post(reverse("curation:label-revoke", args=[entity_type.slug, theirs.pk]), {"reason": "x"}, follow=True)
    assert "Only its curator or a steward can revoke a label." in refused.content.decode()
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    client.post(reverse("curation:label-revoke", args=[entity_type.slug, mine.pk]), {"reason": "misclicked"})
    mine.refresh_from_db()
    assert (mine.revoked_by, mine.revoke_reason) == (curator, "misclicked")


def test_the_revoke_page_needs_the_label_capability(labels, client_for, business_user):
    entity_type, mine, _ = labels
    assert client_for(business_user).post(reverse("curation:label-revoke", args=[entity_type.slug, mine.pk])).status_code == 403


def test_undo_is_refused_once_the_curators_role_no_longer_labels(labels, curator):
    entity_type, mine, _ = labels
    curator.groups.set([Group.objects.get(name=Role.BUSINESS_USER)])
    curator = type(curator).objects.get(pk=curator.pk)  # a fresh user: permissions are cached per instance
    with pytest.raises(NotAllowed, match="no longer allows labeling"):
        services.undo_last_answer(curator=curator, entity_type=entity_type)
    mine.refresh_from_db()
    assert mine.revoked_at is None

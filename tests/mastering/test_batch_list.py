"""A source's batch history page: every batch, filtered, searched, sorted and paged; live while one runs."""

import re

import pytest
from django.urls import reverse

from mastering.models import IngestBatch
from tests.factories import IngestBatchFactory, source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return source_with_fields("people", key="id", id="string", name="string")


def batch_numbers(html: str) -> list[int]:
    return [int(number) for number in re.findall(r'<a href="/sources/[\w-]+/batches/(\d+)/">#', html)]


def page(client, slug: str = "people", **params) -> str:
    response = client.get(reverse("mastering:batch-list", args=[slug]), params)
    assert response.status_code == 200
    return response.content.decode()


def test_lists_only_this_sources_batches_newest_first_linked_from_the_source_page(client_for, business_user, people):
    older, newer = IngestBatchFactory(source=people, file_name="a.csv"), IngestBatchFactory(source=people, file_name="b.csv")
    IngestBatchFactory(source=source_with_fields("other"))
    client = client_for(business_user)  # reading is for every role
    assert batch_numbers(page(client)) == [newer.pk, older.pk]
    assert reverse("mastering:batch-list", args=["people"]) in client.get(people.get_absolute_url()).content.decode()


def test_filters_by_status_searches_file_names_and_numbers_and_sorts(client_for, steward, people):
    good = IngestBatchFactory(source=people, file_name="monday.csv", received=10)
    bad = IngestBatchFactory(source=people, file_name="tuesday.csv", status=IngestBatch.Status.REJECTED,
                             received=5, rejected=3, error="")
    client = client_for(steward)
    assert batch_numbers(page(client, status="rejected")) == [bad.pk]
    assert batch_numbers(page(client, q="MONDAY")) == [good.pk]
    assert batch_numbers(page(client, q=f"#{bad.pk}")) == [bad.pk]
    assert batch_numbers(page(client, ordering="-rejected")) == [bad.pk, good.pk]
    assert batch_numbers(page(client, ordering="received")) == [bad.pk, good.pk]
    assert "No batch matches these filters" in page(client, q="nothing-like-this")
    for odd in ("²", "#①", "9" * 30):  # digits Python knows but int() or a bigint does not
        assert "No batch matches these filters" in page(client, q=odd)


def test_pages_thirty_at_a_time(client_for, steward, people):
    IngestBatchFactory.create_batch(31, source=people)
    client = client_for(steward)
    first, second = page(client), page(client, page=2)
    assert len(batch_numbers(first)) == 30 and len(batch_numbers(second)) == 1
    assert "Page 1 of 2" in first and 'rel="next"' in first


def test_refreshes_itself_only_while_a_batch_runs(client_for, steward, people):
    client = client_for(steward)
    IngestBatchFactory(source=people)
    assert 'hx-trigger="every 3s"' not in page(client)
    IngestBatchFactory(source=people, status=IngestBatch.Status.RUNNING, rows_read=5000)
    html = page(client)
    assert 'hx-trigger="every 3s"' in html and "5000 rows read" in html


def test_empty_state_and_unknown_source(client_for, steward, people):
    client = client_for(steward)
    assert "No batches yet" in page(client)
    assert client.get(reverse("mastering:batch-list", args=["no-such-source"])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, people):
    response = client.get(reverse("mastering:batch-list", args=["people"]))
    assert response.status_code == 302 and "login" in response["Location"]

"""Missing and outdated records: resolved by linking the batch or record that fixes them, checked and shown as a link."""

import io

import pytest

from feedback import services
from feedback.models import DataIssue, IssueAction
from mastering import services as mastering_services
from mastering.models import IngestBatch, SourceRecord
from steward.errors import InvalidInput
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db


@pytest.fixture
def missing(people, business_user):
    return services.file_issue(reporter=business_user, title="Where is Ada?", kind="missing_record",
                               target={"entity_type": "person", "source": "person-src"})


def _batch(source, text: bytes) -> IngestBatch:
    return mastering_services.receive_table(source=source, stream=io.BytesIO(text), file_name="fix.csv", user=None,
                                            channel="command", background=False)


def _company_batch() -> IngestBatch:
    return _batch(source_with_fields("company-src", key="id", id="string", name="string"), b"id,name\nc1,acme\n")


def test_link_a_batch_that_brings_the_missing_record(missing, steward, client_for):
    batch = _batch(SourceRecord.objects.get(key="p1").source, b"id,first,last,city\np99,ada,lovelace,london\n")
    issue = services.resolve_issue(issue=missing, user=steward, version=missing.version, action="link", batch=batch.pk)
    assert (issue.status, issue.resolution) == (DataIssue.Status.RESOLVED, DataIssue.Resolution.LINK)
    action = IssueAction.objects.get(issue=issue)
    assert action.batch == batch and action.record is None
    page = client_for(steward).get(issue.get_absolute_url()).content.decode()
    assert f'href="{batch.get_absolute_url()}"' in page and f"batch #{batch.pk} of Person-Src" in page


def test_link_the_record_that_fixes_an_outdated_one_by_source_and_key(people, business_user, steward, api_for):
    issue = services.file_issue(reporter=business_user, title="Moved", kind="outdated", target={"source": "person-src", "key": "p1"})
    response = api_for(steward).post(f"/api/issues/{issue.pk}/resolve/",
                                     {"version": 1, "action": "link", "source": "person-src", "key": "p2"}, format="json")
    assert response.status_code == 200, response.json()
    action = IssueAction.objects.get(issue=issue)
    assert action.record == SourceRecord.objects.get(key="p2")
    timeline = api_for(steward).get(f"/api/issues/{issue.pk}/timeline/").json()["results"]
    assert timeline[-1]["action"]["record"] == {"source": "person-src", "key": "p2"}


@pytest.mark.parametrize("given,message", [
    ({"batch": 999_999}, "No ingest batch #999999"),
    ({"source": "person-src", "key": "nope"}, "No record with key 'nope'"),
    ({"source": "nowhere", "key": "p1"}, "No record with key 'p1' in source 'nowhere'"),
    ({}, "Name the batch"),
    ({"batch": 1, "source": "person-src", "key": "p1"}, "either a batch or a record"),
])
def test_a_link_to_nothing_is_refused_with_nothing_written(missing, steward, given, message):
    with pytest.raises(InvalidInput, match=message):
        services.resolve_issue(issue=missing, user=steward, version=missing.version, action="link", **given)
    missing.refresh_from_db()
    assert missing.status == DataIssue.Status.NEW and not IssueAction.objects.exists()


def test_a_link_to_a_batch_of_another_entity_type_is_a_400(missing, steward, api_for):
    batch = _company_batch()
    response = api_for(steward).post(f"/api/issues/{missing.pk}/resolve/", {"version": 1, "action": "link", "batch": batch.pk},
                                     format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "Company-Src is not mapped to Person, the entity type this issue is about."
    missing.refresh_from_db()
    assert missing.status == DataIssue.Status.NEW and not IssueAction.objects.exists()


def test_a_link_to_a_batch_that_did_not_succeed_is_refused(missing, steward):
    source = SourceRecord.objects.get(key="p1").source
    rejected = _batch(source, b"id,first,last,city\n,ada,lovelace,london\n")  # no key: the job fails, the batch is rejected
    rejected.refresh_from_db()
    assert rejected.status == IngestBatch.Status.REJECTED
    with pytest.raises(InvalidInput, match="only a batch that succeeded fixes data"):
        services.resolve_issue(issue=missing, user=steward, version=missing.version, action="link", batch=rejected.pk)


def test_a_link_does_not_fit_a_wrong_value(people, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="x", kind="wrong_value", target={"source": "person-src", "key": "p1"})
    with pytest.raises(InvalidInput, match="not resolved by link"):
        services.resolve_issue(issue=issue, user=steward, version=1, action="link", source="person-src", key="p2")


def test_steward_links_from_the_issue_page(missing, steward, client_for):
    client = client_for(steward)
    page = client.get(missing.get_absolute_url()).content.decode()
    assert 'name="link_key"' in page and 'value="link"' in page
    response = client.post(f"/issues/{missing.pk}/resolve/", {"version": 1, "action": "link", "link_source": "person-src",
                                                              "link_key": "p3"}, follow=True)
    assert "Issue resolved." in response.content.decode()
    assert IssueAction.objects.get(issue=missing).record.key == "p3"
    assert 'href="/sources/person-src/records/p3/"' in response.content.decode()

"""Fix at the source: a correction request waits on the source's owner; the next version of the record settles it."""

import io

import pytest

from feedback import services
from feedback.models import DataIssue, IssueAction, Notification, SourceCorrection
from mastering import services as mastering_services
from mastering.models import Source, SourceRecord
from steward.errors import InvalidInput, ServiceError
from tests.feedback.conftest import entity_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting(people, business_user, steward, engineer):
    """A wrong-city issue on p1's golden value, assigned to the steward, asked of the source's owner (the engineer)."""
    Source.objects.filter(slug="person-src").update(owner=engineer)
    issue = services.file_issue(reporter=business_user, title="City", kind="wrong_value",
                                target={"entity": str(entity_of("p1").pk), "attribute": "city"}, expected_value="Lisboa")
    issue = services.assign_issue(issue=issue, user=steward, assignee=steward, version=issue.version)
    issue = services.resolve_issue(issue=issue, user=steward, version=issue.version, action="request_correction",
                                   note="the CRM has it wrong")
    return issue


def _stream(city: str, capture, **other):
    record = SourceRecord.objects.get(key="p1")
    with capture(execute=True):
        mastering_services.upsert_record(source=record.source, key="p1", data={**record.data, "city": city, **other}, user=None)


def test_a_correction_request_waits_on_the_source_and_tells_its_owner(waiting, engineer):
    issue = waiting
    assert (issue.status, issue.resolution, issue.resolved_at) == (DataIssue.Status.WAITING_SOURCE, "", None)
    correction = SourceCorrection.objects.get(issue=issue)
    assert (correction.record.key, correction.field, correction.value_when_requested, correction.expected_value) == \
        ("p1", "city", "paris", "Lisboa")
    assert correction.owner == engineer and correction.outcome == "waiting"
    note = Notification.objects.get(recipient=engineer, issue=issue)
    assert "asked erin-engineer, owner of Person-Src, to correct city of record p1 to “Lisboa”" in note.text
    assert IssueAction.objects.get(issue=issue).record == correction.record
    assert issue.is_open


def test_a_new_version_with_the_asked_value_resolves_the_issue_as_fixed_at_source(waiting, steward,
                                                                                  django_capture_on_commit_callbacks):
    _stream(" lisboa ", django_capture_on_commit_callbacks)
    issue = DataIssue.objects.get(pk=waiting.pk)
    assert (issue.status, issue.resolution) == (DataIssue.Status.RESOLVED, DataIssue.Resolution.FIXED_AT_SOURCE)
    correction = SourceCorrection.objects.get(issue=issue)
    assert correction.outcome == "fixed" and correction.checked_batch is not None
    action = IssueAction.objects.get(issue=issue, kind="fixed_at_source")
    assert action.batch == correction.checked_batch and action.record.key == "p1"
    assert Notification.objects.filter(recipient=steward, issue=issue, text__contains="fixed at the source").exists()


def test_a_table_that_changes_the_value_otherwise_reopens_the_issue_with_a_note(waiting, steward, django_capture_on_commit_callbacks):
    source = Source.objects.get(slug="person-src")
    with django_capture_on_commit_callbacks(execute=True):
        mastering_services.receive_table(source=source, stream=io.BytesIO(b"id,first,last,city\np1,alan,backus,porto\n"),
                                         file_name="fix.csv", user=None, channel="command", background=False)
    issue = DataIssue.objects.get(pk=waiting.pk)
    assert issue.status == DataIssue.Status.ACKNOWLEDGED
    assert SourceCorrection.objects.get(issue=issue).outcome == "changed"
    event = issue.events.order_by("-pk").first()
    assert event.kind == "rechecked" and event.changes["city"] == ["paris", "porto"]
    assert Notification.objects.filter(recipient=steward, issue=issue,
                                       text__contains="changed city to “porto”, not “Lisboa” as asked").exists()


def test_a_new_version_that_leaves_the_field_alone_keeps_waiting_with_a_note(waiting, django_capture_on_commit_callbacks):
    _stream("paris", django_capture_on_commit_callbacks, first="alan2")
    issue = DataIssue.objects.get(pk=waiting.pk)
    assert issue.status == DataIssue.Status.WAITING_SOURCE
    correction = SourceCorrection.objects.get(issue=issue)
    assert correction.outcome == "waiting" and correction.record_version == 2
    assert issue.events.order_by("-pk").first().kind == "rechecked"


def test_moving_the_issue_on_withdraws_the_request_so_a_later_batch_leaves_it_alone(waiting, steward,
                                                                                  django_capture_on_commit_callbacks):
    issue = services.transition_issue(issue=waiting, user=steward, status="in_progress", version=waiting.version)
    assert SourceCorrection.objects.get(issue=issue).outcome == "withdrawn"
    _stream("Lisboa", django_capture_on_commit_callbacks)
    issue.refresh_from_db()
    assert (issue.status, issue.resolution) == (DataIssue.Status.IN_PROGRESS, "")


def test_a_source_without_an_owner_is_refused_with_nothing_written(people, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="City", kind="wrong_value",
                                target={"entity": str(entity_of("p1").pk), "attribute": "city"})
    with pytest.raises(ServiceError, match="has no active owner to ask"):
        services.resolve_issue(issue=issue, user=steward, version=1, action="request_correction")
    issue.refresh_from_db()
    assert (issue.status, issue.version) == (DataIssue.Status.NEW, 1)
    assert not SourceCorrection.objects.exists() and not IssueAction.objects.exists()


@pytest.mark.parametrize("field,message", [(None, "Name the source field"), ("colour", "has no field 'colour'")])
def test_a_record_issue_needs_a_real_field_of_its_source(people, business_user, steward, engineer, field, message):
    Source.objects.filter(slug="person-src").update(owner=engineer)
    issue = services.file_issue(reporter=business_user, title="City", kind="wrong_value", target={"source": "person-src", "key": "p1"})
    with pytest.raises(InvalidInput, match=message):
        services.resolve_issue(issue=issue, user=steward, version=1, action="request_correction", field=field)
    assert not SourceCorrection.objects.exists()
    services.resolve_issue(issue=issue, user=steward, version=1, action="request_correction", field="city", value="Porto")
    assert SourceCorrection.objects.get().expected_value == "Porto"


def test_a_correction_request_does_not_fit_a_duplicate(people, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="Twice", kind="duplicate", target={"source": "person-src", "key": "p1"})
    with pytest.raises(InvalidInput, match="not resolved by request_correction"):
        services.resolve_issue(issue=issue, user=steward, version=1, action="request_correction", field="city")


def test_fixed_at_source_cannot_be_chosen_by_hand(people, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="City", kind="wrong_value", target={"source": "person-src", "key": "p1"})
    with pytest.raises(InvalidInput, match="not resolved by fixed_at_source"):
        services.resolve_issue(issue=issue, user=steward, version=1, action="fixed_at_source")


def test_api_asks_for_a_correction(people, api_client, business_user, steward, engineer):
    Source.objects.filter(slug="person-src").update(owner=engineer)
    issue = services.file_issue(reporter=business_user, title="City", kind="wrong_value", target={"source": "person-src", "key": "p1"})
    api_client.force_authenticate(steward)
    response = api_client.post(f"/api/issues/{issue.pk}/resolve/",
                               {"version": 1, "action": "request_correction", "field": "city", "value": "Porto"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "waiting_source"
    bad = api_client.post(f"/api/issues/{issue.pk}/resolve/", {"version": 2, "action": "request_correction", "field": "nope"},
                          format="json")
    assert bad.status_code == 400 and "has no field 'nope'" in bad.json()["detail"]


def test_the_issue_page_shows_the_wait_and_the_fix_at_source(waiting, client_for, steward, django_capture_on_commit_callbacks):
    client = client_for(steward)
    page = client.get(waiting.get_absolute_url()).content.decode()
    assert "Waiting on the source" in page and 'href="/sources/person-src/records/p1/"' in page
    _stream("Lisboa", django_capture_on_commit_callbacks)
    page = client.get(waiting.get_absolute_url()).content.decode()
    assert "Fixed at the source by Steward (re-check)" in page and "batch #" in page
    assert "None" not in page

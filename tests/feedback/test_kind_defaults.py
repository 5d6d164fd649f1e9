"""Issue kinds' defaults: set in admin through a service, applied when an issue is filed."""

import pytest

from feedback import services
from feedback.models import DataIssue, IssueKindDefault, Notification
from lineage.models import Activity
from steward.errors import InvalidInput

pytestmark = pytest.mark.django_db
TARGET = {"source": "person-src", "key": "p1"}


def test_filing_applies_the_kinds_default_priority_and_assignee(people, business_user, steward, admin_user):
    services.set_kind_default(actor=admin_user, kind="duplicate", priority=DataIssue.Priority.HIGH, assignee=steward)
    issue = services.file_issue(reporter=business_user, title="Twice", kind="duplicate", target=TARGET)
    assert (issue.priority, issue.assignee) == (DataIssue.Priority.HIGH, steward)
    assert issue.watchers.filter(pk=steward.pk).exists()
    assert issue.events.get().changes["assignee"] == [None, steward.username]
    assert Notification.objects.filter(recipient=steward, issue=issue).exists()


def test_a_priority_the_reporter_chose_wins_and_other_kinds_keep_normal(people, business_user, steward, admin_user):
    services.set_kind_default(actor=admin_user, kind="duplicate", priority=DataIssue.Priority.URGENT, assignee=steward)
    chosen = services.file_issue(reporter=business_user, title="a", kind="duplicate", target=TARGET, priority=DataIssue.Priority.LOW)
    other = services.file_issue(reporter=business_user, title="b", kind="outdated", target=TARGET)
    assert chosen.priority == DataIssue.Priority.LOW
    assert (other.priority, other.assignee) == (DataIssue.Priority.NORMAL, None)


def test_a_default_assignee_must_be_able_to_work_on_issues(business_user, admin_user):
    with pytest.raises(InvalidInput, match="neither an active steward nor a curator"):
        services.set_kind_default(actor=admin_user, kind="duplicate", assignee=business_user)
    with pytest.raises(InvalidInput, match="Unknown kind"):
        services.set_kind_default(actor=admin_user, kind="typo")
    assert IssueKindDefault.objects.count() == 0


def test_admin_saves_kind_defaults_through_the_service(client_for, admin_user, curator):
    client = client_for(admin_user)
    response = client.post("/admin/feedback/issuekinddefault/add/", {"kind": "wrong_value", "priority": "3", "assignee": curator.pk})
    assert response.status_code == 302
    row = IssueKindDefault.objects.get()
    assert (row.kind, row.priority, row.assignee) == ("wrong_value", 3, curator)
    assert Activity.objects.filter(kind=Activity.Kind.CONFIGURE, summary__startswith="Defaults for Wrong value").exists()


def test_admin_shows_the_services_refusal_on_the_form(client_for, admin_user, business_user):
    response = client_for(admin_user).post("/admin/feedback/issuekinddefault/add/",
                                           {"kind": "wrong_value", "priority": "2", "assignee": business_user.pk})
    assert response.status_code == 200 and "neither an active steward nor a curator" in response.content.decode()
    assert IssueKindDefault.objects.count() == 0


def test_the_report_form_leaves_the_priority_to_the_kind(people, client_for, business_user, steward, admin_user):
    services.set_kind_default(actor=admin_user, kind="outdated", priority=DataIssue.Priority.HIGH, assignee=steward)
    response = client_for(business_user).post("/issues/new/", {**TARGET, "kind": "outdated", "title": "Old address", "priority": ""})
    assert response.status_code == 302
    issue = DataIssue.objects.get()
    assert (issue.priority, issue.assignee) == (DataIssue.Priority.HIGH, steward)

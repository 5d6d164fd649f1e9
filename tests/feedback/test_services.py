"""Filing, editing, moving and commenting on issues: every change is an event, an Activity, and safe against stale edits."""

import pytest
from django.core import mail

from feedback import services
from feedback.models import Comment, DataIssue, IssueEvent, Notification
from feedback.services import NotAllowed, StaleIssue
from lineage.models import Activity
from steward.errors import InvalidInput, ServiceError
from tests.feedback.conftest import entity_of

pytestmark = pytest.mark.django_db


def value_issue(reporter, entity_type, **extra) -> DataIssue:
    entity = entity_of("p0")
    return services.file_issue(reporter=reporter, title="City is wrong", kind=DataIssue.Kind.WRONG_VALUE,
                               target={"entity": str(entity.pk), "attribute": "city"}, expected_value="paris", **extra)


def test_file_issue_on_a_golden_value_records_target_event_activity_and_watcher(people, business_user):
    entity_type, _ = people
    issue = value_issue(business_user, entity_type, description="Saw it in the **CRM**", tags=["CRM", "q3 cleanup"])
    assert (issue.target, issue.entity, issue.attribute.name) == (DataIssue.Target.VALUE, entity_of("p0"), "city")
    assert issue.value_when_filed == entity_of("p0").golden["city"]
    assert (issue.status, issue.version, issue.entity_type) == (DataIssue.Status.NEW, 1, entity_type)
    assert sorted(t.name for t in issue.tags.all()) == ["crm", "q3-cleanup"]
    assert list(issue.watchers.all()) == [business_user]
    assert IssueEvent.objects.get(issue=issue).kind == IssueEvent.Kind.FILED
    assert Activity.objects.filter(kind=Activity.Kind.ISSUE, user=business_user).count() == 1


def test_file_issue_follows_a_merged_away_entity_to_its_survivor(people, steward, business_user):
    from mastering.services import entities as entity_services

    survivor, other = entity_of("p0"), entity_of("p1")
    entity_services.merge_entities(survivor=survivor, others=[other], user=steward, reason="same")
    issue = services.file_issue(reporter=business_user, title="x", kind="other", target={"entity": str(other.pk)})
    assert issue.entity == survivor


@pytest.mark.parametrize("target, message", [
    ({"entity": "6f1c0000-0000-4000-8000-000000000000"}, "No entity with id '6f1c0000-0000-4000-8000-000000000000'."),
    ({"entity": "not-a-uuid"}, "No entity with id 'not-a-uuid'."),
    ({"source": "nowhere", "key": "p0"}, "No source 'nowhere'."),
    ({"source": "person-src", "key": "nobody"}, "No record with key 'nobody' in source Person-Src."),
    ({}, "Say what the issue is about"),
    ({"attribute": "city"}, "An attribute names one golden value"),
])
def test_file_issue_refuses_a_target_that_never_existed_and_writes_nothing(people, business_user, target, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        services.file_issue(reporter=business_user, title="x", kind="other", target=target)
    assert not DataIssue.objects.exists() and not Activity.objects.filter(kind=Activity.Kind.ISSUE).exists()


def test_file_issue_refuses_a_target_of_the_wrong_entity_type(people, business_user):
    from mastering.models import EntityType

    EntityType.objects.create(name="Company", slug="company")
    with pytest.raises(InvalidInput, match=r"is a Person, not a Company"):
        services.file_issue(reporter=business_user, title="x", kind="other",
                            target={"entity_type": "company", "entity": str(entity_of("p0").pk)})
    with pytest.raises(InvalidInput, match=r"has no attribute 'shoe_size'"):
        services.file_issue(reporter=business_user, title="x", kind="other",
                            target={"entity": str(entity_of("p0").pk), "attribute": "shoe_size"})
    with pytest.raises(InvalidInput, match=r"not mapped to Company"):
        services.file_issue(reporter=business_user, title="x", kind="other",
                            target={"entity_type": "company", "source": "person-src", "key": "p0"})
    assert not DataIssue.objects.exists()


def test_file_issue_on_a_pair_finds_its_entity_type(people, business_user):
    entity_type, _ = people
    issue = services.file_issue(reporter=business_user, title="same person", kind=DataIssue.Kind.DUPLICATE,
                                target={"source": "person-src", "key": "p0", "other_source": "person-src", "other_key": "p1"})
    assert (issue.target, issue.entity_type, issue.record.key, issue.other_record.key) == ("pair", entity_type, "p0", "p1")


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "[click](javascript:alert(1))", "<JAVASCRIPT:alert(1)>", '<img src=x onerror="alert(1)">',
    "[x](JaVaScRiPt&#58;alert(1))",
])
def test_markdown_with_script_or_javascript_links_is_refused_with_nothing_written(people, business_user, text):
    with pytest.raises(InvalidInput, match="cannot be saved"):
        value_issue(business_user, None, description=text)
    assert not DataIssue.objects.exists()


def test_description_is_rendered_with_raw_html_escaped():
    from feedback.markdown import render_markdown

    html = render_markdown("**bold** <b>raw</b> [site](https://example.com)")
    assert "<strong>bold</strong>" in html and "&lt;b&gt;raw&lt;/b&gt;" in html and 'href="https://example.com"' in html


def test_workflow_moves_through_statuses_and_refuses_a_jump_it_does_not_allow(people, business_user, steward):
    issue = value_issue(business_user, None)
    issue = services.transition_issue(issue=issue, user=steward, status="acknowledged", version=1)
    assert issue.acknowledged_at is not None and issue.version == 2
    issue = services.transition_issue(issue=issue, user=steward, status="in_progress", version=2)
    issue = services.transition_issue(issue=issue, user=steward, status="wont_fix", version=3, note="source is right")
    with pytest.raises(ServiceError, match="cannot go to in progress"):
        services.transition_issue(issue=issue, user=steward, status="in_progress", version=4)
    issue = services.transition_issue(issue=issue, user=business_user, status="closed", version=4)
    issue = services.transition_issue(issue=issue, user=business_user, status="new", version=5)
    statuses = [e.changes["status"] for e in IssueEvent.objects.filter(issue=issue, kind="status")]
    assert statuses == [["new", "acknowledged"], ["acknowledged", "in_progress"], ["in_progress", "wont_fix"],
                        ["wont_fix", "closed"], ["closed", "new"]]


def test_a_stale_version_is_refused_and_nothing_is_overwritten(people, business_user, steward):
    issue = value_issue(business_user, None)
    services.edit_issue(issue=issue, user=business_user, version=1, title="City is wrong (Paris)")
    with pytest.raises(StaleIssue, match="Someone changed issue") as refused:
        services.edit_issue(issue=DataIssue.objects.get(pk=issue.pk), user=steward, version=1, title="Mine")
    assert refused.value.status_code == 409
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("City is wrong (Paris)", 2)
    assert IssueEvent.objects.filter(issue=issue, kind="edited").count() == 1


def test_only_stewards_acknowledge_and_assign_but_a_reporter_closes_their_own(people, business_user, curator, steward):
    issue = value_issue(business_user, None)
    with pytest.raises(NotAllowed):
        services.transition_issue(issue=issue, user=business_user, status="acknowledged", version=1)
    with pytest.raises(NotAllowed):
        services.transition_issue(issue=issue, user=curator, status="acknowledged", version=1)
    with pytest.raises(NotAllowed):
        services.assign_issue(issue=issue, user=curator, assignee=curator, version=1)
    issue = services.assign_issue(issue=issue, user=steward, assignee=curator, version=1)
    issue = services.transition_issue(issue=issue, user=curator, status="in_progress", version=2)  # routed to them
    issue = services.transition_issue(issue=issue, user=business_user, status="closed", version=3)
    assert issue.status == "closed" and curator in issue.watchers.all()


def test_assigning_to_someone_who_cannot_work_issues_is_refused(people, business_user, steward):
    issue = value_issue(business_user, None)
    with pytest.raises(InvalidInput, match="neither a steward nor a curator"):
        services.assign_issue(issue=issue, user=steward, assignee=business_user, version=1)


def test_comment_mentions_notify_and_email_followers_but_not_the_author(people, business_user, steward, curator,
                                                                        django_capture_on_commit_callbacks):
    curator.email = "carol@example.com"
    curator.save()
    issue = value_issue(business_user, None)
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_on_issue(issue=issue, author=steward, body="@carol-curator can you check? cc bob@x.org")
    assert list(comment.mentions.all()) == [curator]
    assert set(Notification.objects.values_list("recipient__username", flat=True)) == {"bob-business", "carol-curator"}
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]
    assert steward in issue.watchers.all()


def test_a_comment_over_10000_characters_is_refused_with_nothing_written(people, business_user):
    issue = value_issue(business_user, None)
    with pytest.raises(InvalidInput, match="10,001 characters; keep it to 10,000"):
        services.comment_on_issue(issue=issue, author=business_user, body="x" * 10_001)
    assert not Comment.objects.exists()
    services.comment_on_issue(issue=issue, author=business_user, body="x" * 10_000)


def test_status_changes_notify_the_reporter(people, business_user, steward):
    issue = value_issue(business_user, None)
    services.transition_issue(issue=issue, user=steward, status="acknowledged", version=1)
    note = Notification.objects.get(recipient=business_user)
    assert "acknowledged" in note.text and note.read_at is None
    assert services.mark_notifications_read(user=business_user) == 1

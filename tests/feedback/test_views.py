"""Issue pages: report from the entity page with the target pre-filled, list with filters and views, detail, forms."""

import pytest

from feedback import services
from feedback.models import DataIssue, Notification
from tests.conftest import make_user
from tests.feedback.conftest import entity_of

pytestmark = pytest.mark.django_db


def test_entity_and_record_pages_link_to_report_a_problem_with_the_target(people, client_for, business_user):
    entity = entity_of("p0")
    client = client_for(business_user)
    page = client.get(entity.get_absolute_url()).content.decode()
    assert f"/issues/new/?entity={entity.pk}&amp;entity_type=person&amp;kind=other" in page
    assert f"/issues/new/?entity={entity.pk}&amp;entity_type=person&amp;attribute=city&amp;kind=wrong_value" in page
    assert "/issues/new/?source=person-src&amp;key=p0-dup&amp;kind=wrongly_merged" in page
    page = client.get("/sources/person-src/records/p1/").content.decode()
    assert "/issues/new/?source=person-src&amp;key=p1&amp;kind=outdated" in page


def test_the_navigation_shows_issues_and_the_bell_for_every_role(people, client_for, business_user, engineer):
    for user in (business_user, engineer):
        page = client_for(user).get("/").content.decode()
        assert 'href="/issues/"' in page and 'href="/issues/notifications/"' in page


def test_report_form_previews_the_target_and_files_the_issue(people, client_for, business_user):
    entity = entity_of("p0")
    client = client_for(business_user)
    query = f"?entity={entity.pk}&entity_type=person&attribute=city&kind=wrong_value"
    page = client.get(f"/issues/new/{query}").content.decode()
    assert entity.golden["city"] in page and 'value="wrong_value" selected' in page
    response = client.post("/issues/new/", {"entity": str(entity.pk), "entity_type": "person", "attribute": "city",
                                            "kind": "wrong_value", "title": "Wrong city", "priority": 2, "description": "",
                                            "expected_value": "paris", "tags": "crm, q3"})
    issue = DataIssue.objects.get()
    assert response.status_code == 302 and response["Location"] == issue.get_absolute_url()
    assert (issue.target, issue.attribute.name, issue.expected_value) == ("value", "city", "paris")


def test_report_form_names_an_unknown_target_and_files_nothing(people, client_for, business_user):
    response = client_for(business_user).get("/issues/new/?source=person-src&key=nobody")
    assert response.status_code == 400 and "No record with key &#x27;nobody&#x27;" in response.content.decode()


def test_issue_list_filters_views_and_empty_states(people, client_for, business_user, steward):
    services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"})
    services.file_issue(reporter=steward, title="Beta", kind="outdated", target={"source": "person-src", "key": "p1"})
    client = client_for(business_user)
    page = client.get("/issues/").content.decode()
    assert "Alpha" in page and "Beta" in page
    page = client.get("/issues/?view=mine").content.decode()
    assert "Alpha" in page and "Beta" not in page
    page = client.get("/issues/?kind=outdated").content.decode()
    assert "Beta" in page and "Alpha" not in page
    assert "No issue matches these filters" in client.get("/issues/?q=gamma").content.decode()
    DataIssue.objects.all().delete()
    assert "No data issues yet" in client.get("/issues/").content.decode()


def test_issue_page_shows_timeline_and_markdown_safely_and_takes_a_comment(people, client_for, business_user):
    issue = services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"},
                                description="**bold** <b>raw</b>")
    client = client_for(business_user)
    page = client.get(issue.get_absolute_url()).content.decode()
    assert "<strong>bold</strong>" in page and "&lt;b&gt;raw&lt;/b&gt;" in page and "filed" in page
    assert 'id="resolve-form"' not in page and 'id="assign-form"' not in page  # a business user does not resolve
    client.post(f"/issues/{issue.pk}/comment/", {"body": "More detail"})
    assert "More detail" in client.get(issue.get_absolute_url()).content.decode()


def test_steward_resolves_from_the_page_and_the_reporter_is_notified(people, client_for, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"})
    client = client_for(steward)
    assert 'id="resolve-form"' in client.get(issue.get_absolute_url()).content.decode()
    client.post(f"/issues/{issue.pk}/resolve/", {"version": 1, "action": "no_action", "note": "fixed upstream"})
    issue.refresh_from_db()
    assert issue.status == "resolved"
    assert Notification.objects.filter(recipient=business_user, text__contains="resolved").exists()
    page = client_for(business_user).get("/").content.decode()
    assert 'id="bell-count">1<' in page


def test_a_stale_form_shows_a_reload_warning_and_changes_nothing(people, client_for, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"})
    services.transition_issue(issue=issue, user=steward, status="acknowledged", version=1)
    response = client_for(steward).post(f"/issues/{issue.pk}/transition/", {"version": 1, "status": "wont_fix"}, follow=True)
    assert "Someone changed issue" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == "acknowledged"


def test_a_business_user_posting_a_resolution_is_refused(people, client_for, business_user):
    issue = services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"})
    assert client_for(business_user).post(f"/issues/{issue.pk}/resolve/", {"version": 1, "action": "no_action"}).status_code == 403


def test_report_form_without_a_target_explains_where_to_start(people, client_for, business_user):
    response = client_for(business_user).get("/issues/new/")
    assert response.status_code == 200 and "Report a problem" in response.content.decode()
    assert client_for(business_user).post("/issues/new/", {"title": "x", "kind": "other"}).status_code == 400
    assert not DataIssue.objects.exists()


def test_entity_pages_link_back_to_the_issue_whose_resolution_changed_them(people, client_for, business_user, steward):
    entity = entity_of("p0")
    issue = services.file_issue(reporter=business_user, title="Two people", kind="wrongly_merged",
                                target={"source": "person-src", "key": "p0-dup"})
    services.resolve_issue(issue=issue, user=steward, version=1, action="split")
    link = f'<a href="/issues/{issue.pk}/">issue #{issue.pk}</a>'
    client = client_for(business_user)
    assert link in client.get(entity.get_absolute_url()).content.decode()
    assert link in client.get(f"/entities/person/{entity.pk}/history/").content.decode()


def test_link_issues_escapes_the_rest_of_the_text():
    from steward.templatetags.issue_links import link_issues

    assert link_issues("<b>issue #3</b>") == '&lt;b&gt;<a href="/issues/3/">issue #3</a>&lt;/b&gt;'


def test_the_pair_view_links_to_report_the_pair(people, client_for, curator):
    from tests.factories import make_pairs

    entity_type, source = people
    pair = make_pairs(entity_type, source, 1)[0]
    page = client_for(curator).post(f"/curation/{entity_type.slug}/queue/", {"action": "poll"}).content.decode()
    assert (f"/issues/new/?source=person-src&amp;key={pair.left.key}&amp;other_source=person-src"
            f"&amp;other_key={pair.right.key}&amp;kind=duplicate") in page


def test_reporter_edits_the_issue_from_its_page_and_a_stale_form_is_refused(people, client_for, business_user, steward):
    issue = services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"})
    client = client_for(business_user)
    assert 'id="edit-form"' in client.get(issue.get_absolute_url()).content.decode()
    form = {"version": 1, "title": "Alpha, clearer", "description": "", "expected_value": "", "priority": 3,
            "due_date": "2030-01-31", "tags": "crm"}
    client.post(f"/issues/{issue.pk}/edit/", form)
    issue.refresh_from_db()
    assert (issue.title, issue.priority, str(issue.due_date), issue.version) == ("Alpha, clearer", 3, "2030-01-31", 2)
    response = client.post(f"/issues/{issue.pk}/edit/", {**form, "title": "Stale"}, follow=True)
    assert "Someone changed issue" in response.content.decode()
    issue.refresh_from_db()
    assert issue.title == "Alpha, clearer"
    assert client_for(steward).post(f"/issues/{issue.pk}/edit/", {**form, "version": 2}).status_code == 302
    assert 'id="edit-form"' not in client_for(make_user("other-biz", "business user")).get(issue.get_absolute_url()).content.decode()


def test_board_shows_issues_by_status_with_counts_and_filters(people, client_for, business_user, steward):
    alpha = services.file_issue(reporter=business_user, title="Alpha", kind="other", target={"source": "person-src"})
    services.file_issue(reporter=business_user, title="Beta", kind="outdated", target={"source": "person-src"})
    services.transition_issue(issue=alpha, user=steward, status="acknowledged", version=1)
    page = client_for(business_user).get("/issues/board/").content.decode()
    new_column = page.split('id="column-new"')[1].split("</section>")[0]
    acknowledged = page.split('id="column-acknowledged"')[1].split("</section>")[0]
    assert "Beta" in new_column and "Alpha" not in new_column and "Alpha" in acknowledged
    assert 'id="column-closed"' not in page
    page = client_for(business_user).get("/issues/board/?kind=other").content.decode()
    assert "Beta" not in page and "Alpha" in page

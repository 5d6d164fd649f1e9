"""The metrics page and API: counts, medians over the issues that got there, overdue, sources, weeks."""

import datetime as dt

import pytest
from django.utils import timezone

from feedback import services
from feedback.metrics import duration_text, issue_metrics
from feedback.models import DataIssue
from tests.feedback.conftest import entity_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def figures_data(people, business_user, steward):
    now = timezone.now()
    a = services.file_issue(reporter=business_user, title="a", kind="wrong_value", target={"source": "person-src", "key": "p1"},
                            priority=DataIssue.Priority.HIGH, due_date=timezone.localdate() - dt.timedelta(days=1))
    b = services.file_issue(reporter=business_user, title="b", kind="duplicate", target={"source": "person-src", "key": "p2"})
    c = services.file_issue(reporter=business_user, title="c", kind="other", target={"entity": str(entity_of("p3").pk)})
    # Known spans: a acknowledged after 2 h, b after 4 h; b resolved after 1 day.
    DataIssue.objects.filter(pk=a.pk).update(created_at=now - dt.timedelta(hours=2))
    DataIssue.objects.filter(pk=b.pk).update(created_at=now - dt.timedelta(days=1))
    a.refresh_from_db()
    services.transition_issue(issue=a, user=steward, status="acknowledged", version=a.version)
    DataIssue.objects.filter(pk=b.pk).update(acknowledged_at=now - dt.timedelta(days=1) + dt.timedelta(hours=4),
                                             status="acknowledged")
    b.refresh_from_db()
    services.resolve_issue(issue=b, user=steward, version=b.version)
    return a, b, c


def test_issue_metrics_counts_and_medians(figures_data, steward):
    m = issue_metrics(viewer=steward)
    assert (m["total"], m["open"], m["overdue"], m["entity_issues_without_source"]) == (3, 2, 1, 1)
    by_kind = {row["value"]: row["count"] for row in m["open_by_kind"]}
    assert by_kind == {"wrong_value": 1, "duplicate": 0, "wrongly_merged": 0, "missing_record": 0, "outdated": 0, "other": 1}
    assert {r["value"]: r["count"] for r in m["open_by_status"]} == {"new": 1, "acknowledged": 1, "in_progress": 0,
                                                                     "waiting_source": 0}
    assert {r["value"]: r["count"] for r in m["open_by_priority"]}[str(DataIssue.Priority.HIGH)] == 1
    assert m["time_to_acknowledge"]["issues"] == 2
    assert abs(m["time_to_acknowledge"]["median_seconds"] - 3 * 3600) < 60  # median of 2 h and 4 h
    assert m["time_to_resolve"]["issues"] == 1 and abs(m["time_to_resolve"]["median_seconds"] - 86400) < 60
    (source,) = m["sources"]
    assert (source["source"], source["issues"], source["open"], source["records"]) == ("person-src", 2, 1, 9)
    assert source["per_1000_records"] == round(2000 / 9, 2)
    assert len(m["weeks"]) == 8 and sum(w["filed"] for w in m["weeks"]) == 3 and sum(w["resolved"] for w in m["weeks"]) == 1


def test_metrics_with_no_issues_say_so(people, steward, client_for):
    m = issue_metrics(viewer=steward)
    assert m["time_to_acknowledge"] == {"median_seconds": None, "issues": 0} and m["sources"] == []
    page = client_for(steward).get("/issues/metrics/").content.decode()
    assert "no issue has got there yet" in page and "No issue names a source" in page
    assert "None" not in page


def test_duration_text():
    assert [duration_text(s) for s in (None, 30, 5400, 90_000, 3 * 86400)] == [
        "no issue has got there yet", "1 min", "1.5 h", "25.0 h", "3.0 days"]


def test_metrics_page_for_stewards_linked_from_the_list(figures_data, client_for, steward):
    client = client_for(steward)
    assert 'href="/issues/metrics/"' in client.get("/issues/").content.decode()
    page = client.get("/issues/metrics/").content.decode()
    assert "3.0 h" in page and "(over 2 acknowledged issues)" in page and "1 overdue" in page
    assert "Person-Src" in page and str(round(2000 / 9, 2)) in page and "<meter" in page
    assert "None" not in page and "{'" not in page


def test_metrics_are_for_stewards_only(people, client_for, api_for, business_user):
    assert client_for(business_user).get("/issues/metrics/").status_code == 403
    assert 'href="/issues/metrics/"' not in client_for(business_user).get("/issues/").content.decode()
    assert api_for(business_user).get("/api/issues/metrics/").status_code == 403


def test_metrics_api_matches_the_page_figures(figures_data, api_for, steward):
    response = api_for(steward).get("/api/issues/metrics/")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["open"], body["overdue"]) == (3, 2, 1)
    assert body["sources"][0]["source"] == "person-src" and body["time_to_resolve"]["issues"] == 1

"""The lineage API: OpenLineage events by job and time (role-checked), activities by kind, actor, object, time."""

import csv
import io
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from lineage.models import Activity, RunEvent
from lineage.run_events import RunFacts
from lineage.services import record_activity, record_run_event
from mastering.models import Job
from tests.factories import source_with_fields

pytestmark = pytest.mark.django_db

EVENTS = "/api/lineage/openlineage/"
ACTIVITIES = "/api/lineage/activities/"


def a_run(job_name: str, *, at, ends: str = "COMPLETE") -> uuid.UUID:
    facts = RunFacts(run_id=uuid.uuid4(), job_name=job_name, kind="master")
    record_run_event(facts=facts, state="START", event_time=at)
    record_run_event(facts=facts, state=ends, event_time=at + timedelta(minutes=1))
    return facts.run_id


@pytest.fixture
def runs(db):
    now = timezone.now()
    return {"old": a_run("master.person", at=now - timedelta(days=2)), "new": a_run("master.person", at=now, ends="FAIL"),
            "other": a_run("ingest.crm", at=now - timedelta(hours=1))}


def test_events_are_served_as_stored_oldest_first(api_for, engineer, runs):
    body = api_for(engineer).get(EVENTS).json()
    assert body["count"] == 6
    assert [(e["job"]["name"], e["eventType"]) for e in body["results"]] == [
        ("master.person", "START"), ("master.person", "COMPLETE"), ("ingest.crm", "START"), ("ingest.crm", "COMPLETE"),
        ("master.person", "START"), ("master.person", "FAIL")]
    assert body["results"][0] == RunEvent.objects.order_by("event_time").first().document


def test_events_filter_by_job_and_time(api_for, engineer, runs):
    client = api_for(engineer)
    by_job = client.get(EVENTS, {"job": "ingest.crm"}).json()["results"]
    assert {e["run"]["runId"] for e in by_job} == {str(runs["other"])}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = client.get(EVENTS, {"job": "master.person", "since": since}).json()["results"]
    assert {e["run"]["runId"] for e in recent} == {str(runs["new"])}
    until = client.get(EVENTS, {"until": since}).json()["results"]
    assert {e["run"]["runId"] for e in until} == {str(runs["old"])}
    ends = client.get(EVENTS, {"event_type": "FAIL"}).json()["results"]
    assert [e["eventType"] for e in ends] == ["FAIL"]
    by_run = client.get(EVENTS, {"run_id": str(runs["old"])}).json()
    assert by_run["count"] == 2


def test_events_are_paginated(api_for, engineer, runs):
    body = api_for(engineer).get(EVENTS, {"page_size": 4}).json()
    assert (body["count"], len(body["results"])) == (6, 4) and body["next"]


@pytest.mark.parametrize("params", [{"since": "last tuesday"}, {"run_id": "nope"}, {"event_type": "DONE"}])
def test_bad_event_filters_are_a_400(api_for, engineer, runs, params):
    response = api_for(engineer).get(EVENTS, params)
    assert response.status_code == 400


def test_business_users_and_strangers_may_not_read_events(api_for, api_client, business_user, runs):
    assert api_client.get(EVENTS).status_code in (401, 403)
    response = api_for(business_user).get(EVENTS)
    assert response.status_code == 403 and "OpenLineage" in response.json()["detail"]


@pytest.mark.parametrize("persona", ["engineer", "curator", "steward", "admin_user"])
def test_the_people_who_run_and_feed_the_system_read_events(api_for, request, persona, runs):
    assert api_for(request.getfixturevalue(persona)).get(EVENTS).status_code == 200


# Activities

@pytest.fixture
def activities(engineer, curator):
    crm = source_with_fields("crm", key="id", id="string")
    web = source_with_fields("web", key="id", id="string")
    job = Job.objects.create(kind=Job.Kind.INGEST, source=crm, started_by=engineer)
    old = timezone.now() - timedelta(days=3)
    return {
        "configure": record_activity(kind=Activity.Kind.CONFIGURE, actor=engineer, summary="Created crm", outputs=[crm],
                                     started_at=old, ended_at=old),
        "ingest": record_activity(kind=Activity.Kind.INGEST, actor=job, summary="crm: 3 rows", inputs=[crm], outputs=[crm]),
        "label": record_activity(kind=Activity.Kind.LABEL, actor=curator, summary="=cmd|' /C calc'!A0", inputs=[web]),
        "job": job, "crm": crm,
    }


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_activities_filter_by_kind_actor_object_and_time(api_for, business_user, activities, engineer):
    client = api_for(business_user)
    a = activities
    assert ids(client.get(ACTIVITIES, {"kind": "ingest"})) == {a["ingest"].pk}
    assert ids(client.get(ACTIVITIES, {"kind": ["ingest", "label"]})) == {a["ingest"].pk, a["label"].pk}
    assert ids(client.get(ACTIVITIES, {"actor": f"mastering.job:{a['job'].pk}"})) == {a["ingest"].pk}
    # The job acted for the engineer, so the person's activities include it; the actor filter tells them apart.
    assert ids(client.get(ACTIVITIES, {"user": engineer.username})) == {a["configure"].pk, a["ingest"].pk}
    assert ids(client.get(ACTIVITIES, {"actor": "carol-curator"})) == {a["label"].pk}
    # Read and written by the ingest: listed once.
    crm = f"mastering.source:{a['crm'].pk}"
    assert ids(client.get(ACTIVITIES, {"object": crm})) == {a["configure"].pk, a["ingest"].pk}
    response = client.get(ACTIVITIES, {"object": crm})
    assert response.json()["count"] == 2
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert ids(client.get(ACTIVITIES, {"object": crm, "since": since})) == {a["ingest"].pk}
    assert ids(client.get(ACTIVITIES, {"until": since})) == {a["configure"].pk}


@pytest.mark.parametrize("params, message", [
    ({"object": "mastering.source"}, "app.model:id"),
    ({"object": "nothing.here:1"}, "no kind of object called nothing.here"),
    ({"actor": "mastering.nosuch:3"}, "no kind of object"),
    ({"since": "soon"}, ""),
    ({"kind": "dance"}, ""),
])
def test_bad_activity_filters_are_a_400_saying_why(api_for, business_user, activities, params, message):
    response = api_for(business_user).get(ACTIVITIES, params)
    assert response.status_code == 400
    assert message in str(response.json())


def test_activities_as_csv_are_safe_against_formulas(api_for, business_user, activities):
    response = api_for(business_user).get(ACTIVITIES, {"format": "csv", "kind": "label"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["summary"] for row in rows] == ["'=cmd|' /C calc'!A0"]
    assert rows[0]["kind"] == "label"


def test_activities_as_csv_follow_the_filters(api_for, business_user, activities):
    response = api_for(business_user).get(ACTIVITIES, {"format": "csv", "object": f"mastering.source:{activities['crm'].pk}"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {int(row["id"]) for row in rows} == {activities["configure"].pk, activities["ingest"].pk}


def test_events_as_csv_one_row_each_with_the_filters(api_for, engineer, runs):
    response = api_for(engineer).get(EVENTS, {"format": "csv", "job": "master.person"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["job.name"], row["eventType"]) for row in rows] == [("master.person", "START"), ("master.person", "COMPLETE"),
                                                                      ("master.person", "START"), ("master.person", "FAIL")]
    assert {row["run.runId"] for row in rows} == {str(runs["old"]), str(runs["new"])}

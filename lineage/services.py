from collections.abc import Iterable
from datetime import datetime

import json
import logging

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.utils import timezone
from openlineage.client.event_v2 import RunState

from lineage import tasks
from lineage.models import Activity, ActivityObject, RunEvent
from lineage.run_events import RunFacts, build_run_event

logger = logging.getLogger(__name__)


def _links(objects: Iterable[models.Model], role: str) -> list[ActivityObject]:
    return [
        ActivityObject(
            role=role,
            content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
            object_id=str(obj.pk),
            label=str(obj)[:200],
        )
        for obj in objects
    ]


def _activity(*, kind: str, actor: models.Model | None = None, summary: str = "", parameters: dict | None = None,
              started_at: datetime | None = None, ended_at: datetime | None = None, now: datetime) -> Activity:
    activity = Activity(kind=kind, summary=summary[:300], parameters=parameters or {}, started_at=started_at or now,
                        ended_at=ended_at or now)
    if isinstance(actor, AbstractBaseUser):
        activity.user = actor
    elif actor is not None:
        activity.actor_type = ContentType.objects.get_for_model(actor)
        activity.actor_id = str(actor.pk)
        # A job acts on behalf of whoever started it.
        activity.user = getattr(actor, "started_by", None) or getattr(actor, "user", None)
    return activity


@transaction.atomic(savepoint=False)
def record_activities(*, activities: list[dict]) -> list[Activity]:
    """Write several activities of one change at once, whatever their number: a streamed record's ingest and its
    placement. One statement on PostgreSQL, two elsewhere. Each item takes record_activity's arguments but `run`."""
    now = timezone.now()
    rows = [_activity(**{k: v for k, v in spec.items() if k not in ("inputs", "outputs")}, now=now) for spec in activities]
    links_of = [_links(spec.get("inputs", ()), ActivityObject.Role.INPUT) + _links(spec.get("outputs", ()), ActivityObject.Role.OUTPUT)
                for spec in activities]
    if connection.vendor == "postgresql" and rows:
        _insert_activities_with_links(rows, links_of)
        return rows
    rows = Activity.objects.bulk_create(rows)
    links = []
    for activity, links_of_one in zip(rows, links_of):
        for link in links_of_one:
            link.activity = activity
            links.append(link)
    ActivityObject.objects.bulk_create(links)
    return rows


# The activities take ids drawn from their sequence in the statement itself, so their links can name them: a streamed
# PUT writes its lineage in one round trip instead of two (the links' foreign key is checked at commit).
_ACTIVITIES_WITH_LINKS = """
    WITH made AS MATERIALIZED (
        SELECT nextval(pg_get_serial_sequence('lineage_activity', 'id')) AS id, s.*
        FROM unnest(%s::int[], %s::varchar[], %s::varchar[], %s::bigint[], %s::int[], %s::varchar[], %s::text[],
                    %s::timestamptz[], %s::timestamptz[])
             AS s(position, kind, summary, user_id, actor_type_id, actor_id, parameters, started_at, ended_at)
    ), activities AS (
        INSERT INTO lineage_activity (id, kind, summary, user_id, actor_type_id, actor_id, parameters, started_at, ended_at)
        SELECT id, kind, summary, user_id, actor_type_id, actor_id, parameters::jsonb, started_at, ended_at FROM made
    ), links AS (
        INSERT INTO lineage_activityobject (activity_id, role, content_type_id, object_id, label)
        SELECT made.id, l.role, l.content_type_id, l.object_id, l.label
        FROM unnest(%s::int[], %s::varchar[], %s::int[], %s::varchar[], %s::varchar[])
             AS l(position, role, content_type_id, object_id, label)
        JOIN made ON made.position = l.position
    )
    SELECT id FROM made ORDER BY position
"""


def _insert_activities_with_links(rows: list[Activity], links_of: list[list[ActivityObject]]) -> None:
    encoder = Activity._meta.get_field("parameters").encoder
    columns = [list(range(len(rows))), [a.kind for a in rows], [a.summary for a in rows], [a.user_id for a in rows],
               [a.actor_type_id for a in rows], [a.actor_id for a in rows],
               [json.dumps(a.parameters, cls=encoder) for a in rows], [a.started_at for a in rows],
               [a.ended_at for a in rows]]
    links = [(position, link) for position, links_of_one in enumerate(links_of) for link in links_of_one]
    columns += [[p for p, _ in links], [link.role for _, link in links], [link.content_type_id for _, link in links],
                [link.object_id for _, link in links], [link.label for _, link in links]]
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVITIES_WITH_LINKS, columns)
        for activity, (pk,) in zip(rows, cursor.fetchall()):
            activity.pk = activity.id = pk
            activity._state.adding, activity._state.db = False, connection.alias


# No savepoint of its own: an activity belongs to the caller's change, and fails with it.
@transaction.atomic(savepoint=False)
def record_activity(
    *,
    kind: str,
    actor: models.Model | None = None,
    summary: str = "",
    parameters: dict | None = None,
    inputs: Iterable[models.Model] = (),
    outputs: Iterable[models.Model] = (),
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    run: RunFacts | None = None,
    run_ends: str = RunEvent.EventType.COMPLETE,
) -> Activity:
    """Write what happened, by whom (a user) or what (a job), reading and writing which objects.

    run, for the activity that ends a job's run, also writes the run's OpenLineage ending (run_ends: COMPLETE,
    FAIL or ABORT), in the same transaction.
    """
    activity = _activity(kind=kind, actor=actor, summary=summary, parameters=parameters, started_at=started_at,
                         ended_at=ended_at, now=timezone.now())
    activity.save()
    links = _links(inputs, ActivityObject.Role.INPUT) + _links(outputs, ActivityObject.Role.OUTPUT)
    for link in links:
        link.activity = activity
    ActivityObject.objects.bulk_create(links)
    if run is not None:
        record_run_event(facts=run, state=run_ends, activity=activity, event_time=activity.ended_at)
    return activity


@transaction.atomic(savepoint=False)
def record_run_event(*, facts: RunFacts, state: str, event_time: datetime | None = None,
                     activity: Activity | None = None) -> RunEvent | None:
    """Store one OpenLineage event of a run and, when OPENLINEAGE_URL is set, send it once the transaction commits.

    A run has one START and exactly one ending: an ending for a run that never started (cancelled while queued),
    or for one that has ended already (its runner finished, then the sweep took it for dead), is not written.
    """
    state = RunState(state)
    if state not in (RunState.START, RunState.COMPLETE, RunState.FAIL, RunState.ABORT):
        raise ValueError(f"A run event is START, COMPLETE, FAIL or ABORT, not {state.value}.")
    if state is not RunState.START:
        events = set(RunEvent.objects.filter(run_id=facts.run_id).values_list("event_type", flat=True))
        if RunEvent.EventType.START not in events or events & set(RunEvent.ENDINGS):
            return None
    event_time = event_time or timezone.now()
    document = build_run_event(facts, state=state, event_time=event_time)
    try:
        # A savepoint: the loser of a race for the run's one ending leaves the caller's transaction usable.
        with transaction.atomic():
            event = RunEvent.objects.create(
                run_id=facts.run_id, event_type=state.value, job_namespace=document["job"]["namespace"],
                job_name=facts.job_name, event_time=event_time, document=document, activity=activity,
                delivery=RunEvent.Delivery.PENDING if settings.OPENLINEAGE_URL else RunEvent.Delivery.OFF,
            )
    except IntegrityError:
        return None
    if settings.OPENLINEAGE_URL:
        transaction.on_commit(lambda: tasks.deliver_run_event.delay(event.pk))
    return event


class Delivery:
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


# The receiver will not take these any better later; every other failure may be passing.
_FINAL_STATUSES = {400, 401, 403, 404, 405, 413, 415, 422}


def deliver_run_event(*, event_id: int, last_try: bool = True) -> str:
    """POST one stored event to OPENLINEAGE_URL and record the outcome on it; never raises for a failed send."""
    event = RunEvent.objects.filter(pk=event_id).first()
    if event is None or event.delivery == RunEvent.Delivery.SENT:
        return Delivery.SENT
    if not settings.OPENLINEAGE_URL:
        RunEvent.objects.filter(pk=event_id).update(delivery=RunEvent.Delivery.OFF)
        return Delivery.SENT
    headers = {"Authorization": f"Bearer {settings.OPENLINEAGE_API_KEY}"} if settings.OPENLINEAGE_API_KEY else {}
    try:
        response = requests.post(f"{settings.OPENLINEAGE_URL}/api/v1/lineage", json=event.document, headers=headers,
                                 timeout=settings.OPENLINEAGE_TIMEOUT_SECONDS)
        response.raise_for_status()
    except requests.RequestException as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        final = last_try or status in _FINAL_STATUSES
        logger.warning("Could not send OpenLineage event %s (attempt %s): %s", event_id, event.attempts + 1, exc)
        RunEvent.objects.filter(pk=event_id).update(
            attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000],
            delivery=RunEvent.Delivery.FAILED if final else RunEvent.Delivery.PENDING)
        return Delivery.FAILED if final else Delivery.RETRY
    RunEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1, delivery=RunEvent.Delivery.SENT,
                                                sent_at=timezone.now(), last_error="")
    return Delivery.SENT

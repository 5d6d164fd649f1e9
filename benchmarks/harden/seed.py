"""Seeded data for the probes: one user per role, and one of every kind of object a route can name.

Text fields can carry script payloads (the browser part asks for them); ids of the seeded objects fill path
parameters of the routes. Everything is written through the project's services, as a user would.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

PASSWORD = "harden-probe-password-0123"

# Payloads that run script if a page puts them into HTML unescaped, or into a link, an attribute or a script.
# data-harden-xss marks elements that would only exist if markup from the data reached the DOM.
PAYLOADS = [
    "<script data-harden-xss>alert(1)</script>",
    '"><img src=x onerror=alert(1) data-harden-xss>',
    "javascript:alert(1)",
    "'><svg onload=alert(1) data-harden-xss>",
    "</textarea></title><script data-harden-xss>alert(1)</script>",
    "{{7*7}} ${alert(1)} `-alert(1)-`",
]

USERNAMES = {
    "admin": "harden-admin",
    "steward": "harden-steward",
    "curator": "harden-curator",
    "business user": "harden-business",
    "data engineer": "harden-engineer",
}


@dataclass
class Seeded:
    users: dict = field(default_factory=dict)  # role name -> user
    values: dict = field(default_factory=dict)  # (literal segment before it, parameter) or parameter -> value
    models: dict = field(default_factory=dict)  # "app_label.model" -> a primary key of a seeded row
    queries: dict = field(default_factory=dict)  # route template -> query string it needs to name its object
    forms: dict = field(default_factory=dict)  # page route template -> form fields a POST needs to name its object


def _text(payload: bool, plain: str, index: int = 0) -> str:
    return f"{plain} {PAYLOADS[index % len(PAYLOADS)]}" if payload else plain


def seed(*, payloads: bool = False) -> Seeded:
    """Create users of every role and a small mastered entity type with pairs, labels, overrides and jobs."""
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.test import TestCase
    from rest_framework.authtoken.models import Token

    from accounts.services import create_user
    from curation import services as curation_services
    from curation.models import CandidatePair, Label
    from mastering import services
    from mastering.services import entities as entity_services
    from mastering.models import Attribute, Entity, IngestBatch, Job, SourceRecord

    seeded = Seeded()
    for role, username in USERNAMES.items():
        user = create_user(username=username, password=PASSWORD, role=role, email=f"{username}@example.com")
        if payloads:
            get_user_model().objects.filter(pk=user.pk).update(first_name=PAYLOADS[1], last_name=PAYLOADS[0])
        Token.objects.get_or_create(user=user)
        seeded.users[role] = user
    admin = seeded.users["admin"]

    source = services.create_source(
        name=_text(payloads, "People", 1), slug="people", key_field="id", actor=admin,
        description=_text(payloads, "People from the probe", 0),
        fields=[{"name": n, "type": "string", "required": n == "id"} for n in ("id", "first", "last", "city", "note")],
    )
    firsts = ["ada", "alan", "grace", "edsger", "barbara", "donald", "john", "margaret", "ken", "dennis", "tony", "frances"]
    lasts = ["lovelace", "turing", "hopper", "dijkstra", "liskov", "knuth", "backus", "hamilton", "thompson", "ritchie"]
    rows = [["id", "first", "last", "city", "note"]]
    for i, (first, last) in enumerate(zip(firsts, lasts * 2)):
        note = PAYLOADS[i % len(PAYLOADS)] if payloads else "plain"
        city = PAYLOADS[(i + 1) % len(PAYLOADS)] if payloads and i % 3 == 0 else ["london", "paris", "oslo"][i % 3]
        rows.append([f"p{i}", first, last, city, note])
        if i % 2 == 0:
            rows.append([f"p{i}-dup", first[:-1] + "x", last, city, note])
    import csv

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    batch = services.receive_table(source=source, stream=io.BytesIO(buffer.getvalue().encode()), file_name="people.csv",
                                   user=admin, channel=IngestBatch.Channel.API, background=False)
    if payloads:  # a record whose key itself is a payload: keys are shown and linked on many pages
        services.upsert_record(source=source, key=PAYLOADS[2], data={"id": PAYLOADS[2], "first": PAYLOADS[0], "last": "x"}, user=admin)

    entity_type = services.create_entity_type(
        name=_text(payloads, "Person", 1), slug="person", actor=admin,
        description=_text(payloads, "People, mastered", 3),
        attributes=[{"name": n, "comparator": "String"} for n in ("first", "last", "city", "note")],
        mappings=[{"source": source.slug, "field": n, "attribute": n, "transforms": ["trim"]} for n in ("first", "last", "city", "note")],
    )
    steward = seeded.users["steward"]
    labels = [{"left": {"source": "people", "key": f"p{i}"}, "right": {"source": "people", "key": f"p{i}-dup"}, "answer": "match"}
              for i in range(0, 12, 2)]
    labels += [{"left": {"source": "people", "key": f"p{i}"}, "right": {"source": "people", "key": f"p{i + 1}"}, "answer": "distinct"}
               for i in range(0, 11, 2)]
    curation_services.import_labels(entity_type=entity_type, rows=labels, curator=steward)
    curation_services.train_match_model(entity_type=entity_type)
    # Tasks run eagerly on commit; inside a test's transaction there is no commit, so run them at the block's end.
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER, user=admin)
    entity = Entity.objects.filter(entity_type=entity_type).order_by("pk").first()
    if entity is None:
        raise RuntimeError("Seeding failed: the mastering run made no entity.")
    attribute = Attribute.objects.get(entity_type=entity_type, name="note")
    override = entity_services.override_value(entity=entity, attribute=attribute, value=_text(payloads, "fixed", 4),
                                       user=steward, reason=_text(payloads, "probe override", 0))

    records = list(SourceRecord.objects.filter(source=source).order_by("pk"))
    pair = CandidatePair.objects.create(entity_type=entity_type, left_id=records[1].pk, right_id=records[4].pk,
                                        origin=CandidatePair.Origin.ACTIVE_LEARNING, priority=0,
                                        answers_needed=entity_type.overlap)
    label = Label.objects.filter(pair__entity_type=entity_type).order_by("pk").first()
    job = Job.objects.filter(entity_type=entity_type).order_by("-pk").first()
    from lineage.models import Activity

    activity = Activity.objects.order_by("pk").first()
    issue, notification = _issue(seeded, entity, attribute, payloads)

    seeded.values.update({
        ("sources", "slug"): source.slug, ("entity-types", "slug"): entity_type.slug, ("entities", "slug"): entity_type.slug,
        ("curation", "slug"): entity_type.slug, ("mappings", "source"): source.slug,
        ("records", "key"): records[0].key, ("batches", "batch_id"): batch.pk, ("batches", "pk"): batch.pk,
        ("batches", "id"): batch.pk, ("jobs", "job_id"): job.pk, ("jobs", "pk"): job.pk, ("jobs", "id"): job.pk,
        ("entities", "entity_id"): entity.pk, ("entities", "pk"): entity.pk, ("entities", "id"): entity.pk,
        ("pairs", "pk"): pair.pk, ("pairs", "id"): pair.pk, ("labels", "pk"): label.pk, ("labels", "id"): label.pk, ("labels", "label_id"): label.pk,
        ("activities", "activity_id"): activity.pk, ("activities", "pk"): activity.pk, ("activities", "id"): activity.pk,
        ("overrides", "override_id"): override.pk, ("attributes", "attribute"): attribute.name,
        ("issues", "id"): issue.pk, ("issues", "pk"): issue.pk, ("issues", "issue_id"): issue.pk,
        ("notifications", "id"): notification.pk, ("notifications", "pk"): notification.pk,
        ("review", "name"): "low-confidence", ("upload", "token"): "no-such-upload",
        "action": "pin",
    })
    seeded.queries.update({
        "/api/entity-types/{slug}/mappings/propose/": f"source={source.slug}",
        "/api/entity-types/{slug}/attributes/{attribute}/rule/": "rule=most_frequent",
    })
    seeded.forms.update({"/curation/{slug}/rules/": {"attribute": attribute.name}})
    _axes_rows()
    _beat_rows()
    for model in apps.get_models():
        if not model._meta.managed:
            continue
        row = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if row is not None:
            seeded.models[model._meta.label_lower] = row
    return seeded


def _issue(seeded: Seeded, entity, attribute, payloads: bool):
    """A data issue on a golden value, filed by the business user and commented on by the steward (who mentions
    them), so the business user has a notification."""
    from feedback import services as feedback_services

    reporter = seeded.users["business user"]
    admin = seeded.users["admin"]
    # Admin pages for kind defaults, allowed hosts, subscriptions and deliveries need a row each; the comment below
    # queues a delivery (to a port nobody listens on: it fails, and the log shows it).
    feedback_services.set_kind_default(actor=admin, kind="duplicate", priority=3, assignee=seeded.users["steward"])
    feedback_services.save_webhook_host(actor=admin, host="127.0.0.1", allow_private=True, note=_text(payloads, "probe", 2))
    feedback_services.save_webhook_subscription(actor=admin, name=_text(payloads, "probe hook", 3), url="http://127.0.0.1:9/hook",
                                                secret="probe-secret-0123456789", events=["commented"])
    issue = feedback_services.file_issue(
        reporter=reporter, title=_text(payloads, "Wrong note", 1), kind="wrong_value",
        # Script in Markdown is refused when filed, so the payload here is one the description must show as text.
        description=_text(payloads, "The note is **wrong**", 5),
        target={"entity": str(entity.pk), "attribute": attribute.name}, expected_value=_text(payloads, "right", 4))
    feedback_services.comment_on_issue(issue=issue, author=seeded.users["steward"],
                                       body=f"@{reporter.username} {_text(payloads, 'which source?', 5)}")
    return issue, reporter.issue_notifications.first()


def _beat_rows() -> None:
    """The beat schedule's rows (as its database scheduler writes them) and one schedule of each kind, for admin pages.

    Written here rather than by the scheduler, which closes the database connection (and so a test's transaction).
    """
    from django.conf import settings
    from django.utils import timezone
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        every, _ = IntervalSchedule.objects.get_or_create(every=int(entry["schedule"]), period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.get_or_create(name=name, defaults={"task": entry["task"], "interval": every})
    CrontabSchedule.objects.get_or_create(minute="0", hour="3")
    SolarSchedule.objects.get_or_create(event="sunrise", latitude=52.52, longitude=13.4)
    ClockedSchedule.objects.get_or_create(clocked_time=timezone.now())


def _axes_rows() -> None:
    """One row in each of django-axes' tables, so their admin pages have an object to show."""
    from django.utils import timezone

    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    common = {"user_agent": "probe", "ip_address": "127.0.0.1", "username": "nobody", "http_accept": "*/*", "path_info": "/login/"}
    AccessAttempt.objects.create(**common, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**common, attempt_time=timezone.now())
    AccessFailureLog.objects.create(**common, attempt_time=timezone.now(), locked_out=False)

from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from lineage.models import Activity, ActivityObject


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
) -> Activity:
    """Write what happened, by whom (a user) or what (a job), reading and writing which objects."""
    now = timezone.now()
    activity = Activity(
        kind=kind,
        summary=summary[:300],
        parameters=parameters or {},
        started_at=started_at or now,
        ended_at=ended_at or now,
    )
    if isinstance(actor, AbstractBaseUser):
        activity.user = actor
    elif actor is not None:
        activity.actor_type = ContentType.objects.get_for_model(actor)
        activity.actor_id = str(actor.pk)
        # A job acts on behalf of whoever started it.
        activity.user = getattr(actor, "started_by", None) or getattr(actor, "user", None)
    activity.save()
    links = _links(inputs, ActivityObject.Role.INPUT) + _links(outputs, ActivityObject.Role.OUTPUT)
    for link in links:
        link.activity = activity
    ActivityObject.objects.bulk_create(links)
    return activity

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from lineage.models import Activity, RunEvent


def list_activities() -> QuerySet[Activity]:
    """All activities, newest first, with their actors loaded."""
    return Activity.objects.select_related("user", "actor_type").prefetch_related("links__content_type")


def list_activities_touching(obj: models.Model) -> QuerySet[Activity]:
    """Activities that read or wrote the object."""
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return list_activities().filter(links__content_type=content_type, links__object_id=str(obj.pk)).distinct()


def run_is_open(run_id) -> bool:
    """Whether a run has started and not yet ended (in its OpenLineage events)."""
    events = set(RunEvent.objects.filter(run_id=run_id).values_list("event_type", flat=True))
    return RunEvent.EventType.START in events and not events & set(RunEvent.ENDINGS)


def list_run_events() -> QuerySet[RunEvent]:
    """Every stored OpenLineage run event, oldest first."""
    return RunEvent.objects.all()


def run_has_ended(run_id) -> bool:
    """Whether a run's OpenLineage ending (COMPLETE, FAIL or ABORT) is written."""
    return RunEvent.objects.filter(run_id=run_id, event_type__in=RunEvent.ENDINGS).exists()

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from lineage.models import Activity


def list_activities() -> QuerySet[Activity]:
    """All activities, newest first, with their actors loaded."""
    return Activity.objects.select_related("user", "actor_type").prefetch_related("links__content_type")


def list_activities_touching(obj: models.Model) -> QuerySet[Activity]:
    """Activities that read or wrote the object."""
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return list_activities().filter(links__content_type=content_type, links__object_id=str(obj.pk)).distinct()

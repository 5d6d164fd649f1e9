import django_filters
from django import forms
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from lineage.models import Activity, ActivityObject, RunEvent
from steward.filters import UTCDateTimeFilter

OBJECT_HELP = "An object as app.model:id, as activities show it (mastering.entity:3f2c..., mastering.job:12)."


class ObjectRefField(forms.CharField):
    """`app.model:id` → (content type, id); an unknown type or a missing id is a 400, not an empty list."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        type_name, sep, object_id = value.partition(":")
        app_label, dot, model = type_name.partition(".")
        if not (sep and dot and object_id.strip()):
            raise ValidationError("Give the object as app.model:id, for example mastering.job:12.", code="invalid")
        try:
            content_type = ContentType.objects.get_by_natural_key(app_label.lower(), model.lower())
        except ContentType.DoesNotExist:
            raise ValidationError(f"There is no kind of object called {type_name}.", code="invalid") from None
        return content_type, object_id.strip()


@extend_schema_field(OpenApiTypes.STR)
class ObjectRefFilter(django_filters.Filter):
    field_class = ObjectRefField


class ActorField(forms.CharField):
    """A person (their user name) or a non-person actor (app.model:id, such as the job that ran)."""

    def clean(self, value):
        value = super().clean(value)
        if not value or ":" not in value:
            return value or None
        return ObjectRefField().clean(value)


@extend_schema_field(OpenApiTypes.STR)
class ActorFilter(django_filters.Filter):
    field_class = ActorField


class ActivityFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=Activity.Kind.choices)
    user = django_filters.CharFilter(field_name="user__username", label="User name")
    actor = ActorFilter(method="filter_actor", label="Actor",
                        help_text="A user name, or a non-person actor as app.model:id (mastering.job:12).")
    object = ObjectRefFilter(method="filter_object", label="Object", help_text=f"Activities that read or wrote it. {OBJECT_HELP}")
    since = UTCDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="started_at", lookup_expr="lt")
    q = django_filters.CharFilter(field_name="summary", lookup_expr="icontains", label="Summary contains")

    class Meta:
        model = Activity
        fields = ["kind", "user", "actor", "object", "since", "until", "q"]

    def filter_actor(self, queryset: QuerySet[Activity], name: str, value) -> QuerySet[Activity]:
        if isinstance(value, tuple):
            content_type, object_id = value
            return queryset.filter(actor_type=content_type, actor_id=object_id)
        return queryset.filter(user__username=value)

    def filter_object(self, queryset: QuerySet[Activity], name: str, value) -> QuerySet[Activity]:
        content_type, object_id = value
        # A subquery rather than a join: a join would repeat an activity linked to the object twice (read and written).
        return queryset.filter(pk__in=ActivityObject.objects.filter(
            content_type=content_type, object_id=object_id).values("activity_id"))


class RunEventFilter(django_filters.FilterSet):
    job = django_filters.CharFilter(field_name="job_name", label="Job name",
                                    help_text="The job's name, such as master.person or ingest.crm.")
    job_namespace = django_filters.CharFilter(field_name="job_namespace")
    run_id = django_filters.UUIDFilter(field_name="run_id")
    event_type = django_filters.MultipleChoiceFilter(choices=RunEvent.EventType.choices)
    since = UTCDateTimeFilter(field_name="event_time", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="event_time", lookup_expr="lt")

    class Meta:
        model = RunEvent
        fields = ["job", "job_namespace", "run_id", "event_type", "since", "until"]




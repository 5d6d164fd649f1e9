"""FilterSets shared by the mastering pages and API."""

import django_filters
from django.db.models import OuterRef, Q, QuerySet, Subquery

from mastering.models import Attribute, Entity, IngestBatch, Job, Membership, Source, SourceField, SourceRecord
from steward.filters import UTCDateTimeFilter, YesNoFilter


def any_value_contains(field: str, keys, value: str) -> Q:
    """Some key of a JSON field contains the text, case-insensitively (JSON text itself escapes accents on SQLite)."""
    condition = Q(pk__in=[])
    for key in keys:
        condition |= Q(**{f"{field}__{key}__icontains": value})
    return condition


class SourceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name contains")
    active = YesNoFilter()

    class Meta:
        model = Source
        fields = ["q", "active", "ingest_mode"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(name__icontains=value) | queryset.filter(slug__icontains=value)


class SourceRecordFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    key = django_filters.CharFilter()
    retired = YesNoFilter()
    changed_batch = django_filters.NumberFilter(field_name="changed_batch_id", label="Changed by batch")
    updated_since = UTCDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    ordering = django_filters.OrderingFilter(fields=["key", "version", "updated_at", "created_at"])

    class Meta:
        model = SourceRecord
        fields = ["q", "key", "retired", "changed_batch", "updated_since"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Match the key or any field value of the record."""
        source_id = queryset.values_list("source_id", flat=True).first()
        names = SourceField.objects.filter(source_id=source_id).values_list("name", flat=True)
        return queryset.filter(any_value_contains("data", names, value) | Q(key__icontains=value))


class IngestBatchFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=IngestBatch.Status.choices)
    channel = django_filters.MultipleChoiceFilter(choices=IngestBatch.Channel.choices)

    class Meta:
        model = IngestBatch
        fields = ["status", "channel", "mode"]


class SourceBatchFilter(IngestBatchFilter):
    """The batch history page of a source: the API's filters plus a search and sorting."""

    q = django_filters.CharFilter(method="search", label="File name or #")
    ordering = django_filters.OrderingFilter(
        fields=["created_at", "received", "rejected"],
        field_labels={"created_at": "Received", "received": "Rows", "rejected": "Rejected rows"},
    )

    class Meta(IngestBatchFilter.Meta):
        fields = ["q", "status", "channel", "mode"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        number = value.strip().lstrip("#")
        condition = Q(file_name__icontains=value.strip())
        is_number = number.isascii() and number.isdigit() and len(number) < 19  # a bigint, not "²" or a phone number
        return queryset.filter(condition | Q(pk=int(number)) if is_number else condition)


class JobFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=Job.Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Job.Status.choices)
    entity_type = django_filters.CharFilter(field_name="entity_type__slug", label="Entity type")
    source = django_filters.CharFilter(field_name="source__slug", label="Source (ingest jobs)")

    class Meta:
        model = Job
        fields = ["kind", "status", "entity_type", "source"]


class EntityFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search golden values")
    source = django_filters.CharFilter(method="from_source", label="Has a record from source (slug)")
    size_min = django_filters.NumberFilter(field_name="size", lookup_expr="gte")
    size_max = django_filters.NumberFilter(field_name="size", lookup_expr="lte")
    confidence_max = django_filters.NumberFilter(field_name="confidence", lookup_expr="lte", label="Confidence at most")
    changed_in_last_run = YesNoFilter(method="in_last_run", label="Changed by the last run")
    pinned = YesNoFilter()
    ordering = django_filters.OrderingFilter(fields=["size", "confidence", "created_at", "updated_at"])

    class Meta:
        model = Entity
        fields = ["q", "source", "size_min", "size_max", "confidence_max", "changed_in_last_run", "pinned"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Match any golden value (not attribute names, and accents intact on every database)."""
        entity_type_id = queryset.values_list("entity_type_id", flat=True).first()
        names = Attribute.objects.filter(entity_type_id=entity_type_id).values_list("name", flat=True)
        return queryset.filter(any_value_contains("golden", names, value))

    def from_source(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(memberships__record__source__slug=value).distinct()

    def in_last_run(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        last_run = Job.objects.filter(entity_type=OuterRef("entity_type"), kind=Job.Kind.MASTER, status=Job.Status.DONE)
        latest = Subquery(last_run.order_by("-finished_at").values("pk")[:1])
        return queryset.filter(changed_job=latest) if value else queryset.exclude(changed_job=latest)


class MembershipFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="record__source__slug")
    reason = django_filters.MultipleChoiceFilter(choices=Membership.Reason.choices)
    entity = django_filters.UUIDFilter(field_name="entity_id")
    confidence_max = django_filters.NumberFilter(field_name="confidence", lookup_expr="lte")

    class Meta:
        model = Membership
        fields = ["source", "reason", "entity", "confidence_max"]

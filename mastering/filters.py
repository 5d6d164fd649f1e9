"""FilterSets shared by the mastering pages and API."""

import django_filters
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from mastering.models import IngestBatch, Job, Source, SourceRecord


class SourceFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name contains")
    active = django_filters.BooleanFilter()

    class Meta:
        model = Source
        fields = ["q", "active", "ingest_mode"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(name__icontains=value) | queryset.filter(slug__icontains=value)


class SourceRecordFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    key = django_filters.CharFilter()
    retired = django_filters.BooleanFilter()
    changed_batch = django_filters.NumberFilter(field_name="changed_batch_id", label="Changed by batch")
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    ordering = django_filters.OrderingFilter(fields=["key", "version", "updated_at", "created_at"])

    class Meta:
        model = SourceRecord
        fields = ["q", "key", "retired", "changed_batch", "updated_since"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """Match the key or any value of the record."""
        return queryset.annotate(data_text=Cast("data", TextField())).filter(data_text__icontains=value) | queryset.filter(
            key__icontains=value
        )


class IngestBatchFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=IngestBatch.Status.choices)
    channel = django_filters.MultipleChoiceFilter(choices=IngestBatch.Channel.choices)

    class Meta:
        model = IngestBatch
        fields = ["status", "channel", "mode"]


class JobFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=Job.Kind.choices)
    status = django_filters.MultipleChoiceFilter(choices=Job.Status.choices)
    entity_type = django_filters.CharFilter(field_name="entity_type__slug", label="Entity type")

    class Meta:
        model = Job
        fields = ["kind", "status", "entity_type"]

"""The issue list's filters, shared by the page and the API."""

import django_filters
from django.db.models import Q
from django.utils import timezone

from feedback.models import DataIssue

VIEWS = [("mine", "Filed by me"), ("assigned", "Assigned to me"), ("unassigned", "Unassigned"), ("overdue", "Overdue"),
         ("open", "Open")]


class DataIssueFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=DataIssue.Status.choices)
    kind = django_filters.MultipleChoiceFilter(choices=DataIssue.Kind.choices)
    priority = django_filters.MultipleChoiceFilter(choices=DataIssue.Priority.choices)
    source = django_filters.CharFilter(method="filter_source", label="Source (slug)")
    entity_type = django_filters.CharFilter(field_name="entity_type__slug", label="Entity type (slug)")
    assignee = django_filters.CharFilter(method="filter_assignee", label="Assignee (username; 'none' for unassigned)")
    reporter = django_filters.CharFilter(field_name="reporter__username", label="Reporter (username)")
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag", distinct=True)
    q = django_filters.CharFilter(method="filter_text", label="Text in title, description or target")
    view = django_filters.ChoiceFilter(choices=VIEWS, method="filter_view", label="Saved view")
    ordering = django_filters.OrderingFilter(
        fields=(("created_at", "created"), ("updated_at", "updated"), ("priority", "priority"), ("due_date", "due"),
                ("status", "status"), ("title", "title")),
        label="Sort by")

    class Meta:
        model = DataIssue
        fields = ["status", "kind", "priority", "source", "entity_type", "assignee", "reporter", "tag", "q", "view"]

    def filter_source(self, queryset, name, value):
        # An issue is about a source when it names the source, one of its records, or an entity holding one.
        in_entities = DataIssue.objects.filter(entity__memberships__record__source__slug=value).values("pk")
        return queryset.filter(Q(source__slug=value) | Q(record__source__slug=value) | Q(pk__in=in_entities))

    def filter_assignee(self, queryset, name, value):
        return queryset.filter(assignee__isnull=True) if value == "none" else queryset.filter(assignee__username=value)

    def filter_text(self, queryset, name, value):
        return queryset.filter(Q(title__icontains=value) | Q(description__icontains=value) | Q(target_label__icontains=value))

    def filter_view(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value == "mine":
            return queryset.filter(reporter=user)
        if value == "assigned":
            return queryset.filter(assignee=user)
        if value == "unassigned":
            return queryset.open().filter(assignee__isnull=True)
        if value == "overdue":
            return queryset.overdue(timezone.localdate())
        return queryset.open()

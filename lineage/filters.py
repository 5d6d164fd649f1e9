import django_filters

from lineage.models import Activity
from steward.filters import UTCDateTimeFilter


class ActivityFilter(django_filters.FilterSet):
    kind = django_filters.MultipleChoiceFilter(choices=Activity.Kind.choices)
    user = django_filters.CharFilter(field_name="user__username", label="User name")
    since = UTCDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="started_at", lookup_expr="lt")
    q = django_filters.CharFilter(field_name="summary", lookup_expr="icontains", label="Summary contains")

    class Meta:
        model = Activity
        fields = ["kind", "user", "since", "until", "q"]

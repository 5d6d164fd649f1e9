import django_filters

from curation.models import Label
from steward.filters import UTCDateTimeFilter, YesNoFilter


class LabelFilter(django_filters.FilterSet):
    curator = django_filters.CharFilter(field_name="curator__username")
    answer = django_filters.MultipleChoiceFilter(choices=Label.Answer.choices)
    origin = django_filters.MultipleChoiceFilter(choices=Label.Origin.choices)
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    revoked = YesNoFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Label
        fields = ["curator", "answer", "origin", "since", "until", "revoked"]

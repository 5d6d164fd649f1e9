import django_filters

from curation.models import Label
from mastering.models import MatchModel
from steward.filters import UTCDateTimeFilter, YesNoFilter


class LabelFilter(django_filters.FilterSet):
    curator = django_filters.CharFilter(field_name="curator__username")
    answer = django_filters.MultipleChoiceFilter(choices=Label.Answer.choices)
    origin = django_filters.MultipleChoiceFilter(choices=Label.Origin.choices)
    since = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")
    revoked = YesNoFilter(field_name="revoked_at", lookup_expr="isnull", exclude=True)
    taught = django_filters.NumberFilter(method="filter_taught", label="Taught model version",
                                         help_text="Only the labels that model version was trained on.")

    class Meta:
        model = Label
        fields = ["curator", "answer", "origin", "since", "until", "revoked", "taught"]

    def filter_taught(self, queryset, name, value):
        # A version number names one model per entity type; the labels it learned from are listed on the model.
        taught: set[int] = set()
        models = MatchModel.objects.filter(version=value, entity_type__in=queryset.values("pair__entity_type"))
        for label_ids in models.values_list("label_ids", flat=True):
            taught.update(label_ids)
        return queryset.filter(pk__in=taught)

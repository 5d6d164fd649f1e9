from django.db.models import QuerySet
from rest_framework import viewsets

from lineage import selectors
from lineage.api.serializers import ActivitySerializer
from lineage.filters import ActivityFilter
from lineage.models import Activity
from steward.api.lists import StreamingCSVListMixin
from steward.api_router import router


class ActivityViewSet(StreamingCSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Activities: who or what did what, with inputs and outputs."""

    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    ordering_fields = ["started_at", "id"]

    def get_queryset(self) -> QuerySet[Activity]:
        return selectors.list_activities()


router.register("lineage/activities", ActivityViewSet, basename="activity")

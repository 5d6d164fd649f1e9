from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.permissions import BasePermission

from lineage import selectors
from lineage.api.serializers import ActivitySerializer, RunEventSerializer
from lineage.filters import ActivityFilter, RunEventFilter
from lineage.models import Activity, RunEvent
from steward.api.lists import StreamingCSVListMixin
from steward.api_router import router


class ActivityViewSet(StreamingCSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Activities: who or what did what, with inputs and outputs."""

    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    ordering_fields = ["started_at", "id"]

    def get_queryset(self) -> QuerySet[Activity]:
        return selectors.list_activities()


class CanReadRunEvents(BasePermission):
    message = "Your role does not include reading OpenLineage events (data engineers, curators, stewards and admins do)."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("lineage.view_run_events"))


class RunEventViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """OpenLineage run events of every job's run (START, then COMPLETE, FAIL or ABORT), oldest first.

    Each result is the event as sent to OPENLINEAGE_URL; filter by job name and time.
    """

    serializer_class = RunEventSerializer
    filterset_class = RunEventFilter
    permission_classes = [CanReadRunEvents]
    ordering_fields = ["event_time", "id"]

    def get_queryset(self) -> QuerySet[RunEvent]:
        return selectors.list_run_events()


router.register("lineage/activities", ActivityViewSet, basename="activity")
router.register("lineage/openlineage", RunEventViewSet, basename="openlineage-event")

from django.db.models import QuerySet
from rest_framework import mixins, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from lineage import selectors
from lineage.api.serializers import ActivitySerializer, RunEventSerializer
from lineage.filters import ActivityFilter, RunEventFilter
from lineage.models import Activity, RunEvent
from steward.api.csv_export import wants_csv
from steward.api.lists import StreamingCSVListMixin, list_response
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

    Each result is the event as sent to OPENLINEAGE_URL; filter by job name and time. `?format=csv` gives one row
    per event (time, state, job, run id, datasets and facets as JSON cells).
    """

    serializer_class = RunEventSerializer
    filterset_class = RunEventFilter
    permission_classes = [CanReadRunEvents]
    ordering_fields = ["event_time", "id"]
    CSV_COLUMNS = ["eventTime", "eventType", "job.namespace", "job.name", "run.runId", "inputs", "outputs",
                   "run.facets", "producer"]

    def get_queryset(self) -> QuerySet[RunEvent]:
        return selectors.list_run_events()

    def list(self, request: Request, *args, **kwargs) -> Response:
        if not wants_csv(request):
            return super().list(request, *args, **kwargs)
        return list_response(request, self.filter_queryset(self.get_queryset()), view=self,
                             row=lambda event: event.document, columns=self.CSV_COLUMNS, file_name="openlineage.csv")


router.register("lineage/activities", ActivityViewSet, basename="activity")
router.register("lineage/openlineage", RunEventViewSet, basename="openlineage-event")

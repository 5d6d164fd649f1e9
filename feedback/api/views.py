from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers as drf_serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from feedback import metrics, selectors, services
from feedback.api import serializers
from feedback.filters import DataIssueFilter
from feedback.models import DataIssue, Notification
from steward.api.lists import StreamingCSVListMixin, list_response
from steward.api.metadata import ActionInputsMixin
from steward.api.permissions import has_capability
from steward.api_router import router


class MayResolve(BasePermission):
    """Stewards resolve; curators too, on the issues routed to them (the service checks which)."""

    message = "Your role does not allow resolving issues."

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("accounts.triage_issues") or request.user.has_perm("accounts.curate")


def _valid(serializer_class, request: Request) -> dict:
    payload = serializer_class(data=request.data)
    payload.is_valid(raise_exception=True)
    return payload.validated_data


class DataIssueViewSet(StreamingCSVListMixin, ActionInputsMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Data issues: file one on an entity, a golden value, a pair of records, a record or a source; triage and resolve."""

    serializer_class = serializers.DataIssueSerializer
    filterset_class = DataIssueFilter
    filter_backends = [DjangoFilterBackend]  # sorting is the FilterSet's `ordering`, shared with the page
    action_inputs = {"create": serializers.FileIssueInput, "partial_update": serializers.EditIssueInput,
                     "transition": serializers.TransitionInput, "assign": serializers.AssignInput,
                     "resolve": serializers.ResolveInput, "watch": serializers.WatchInput}
    csv_file_name = "issues.csv"
    PERMISSIONS = {"create": "file_issues", "partial_update": "file_issues", "transition": "file_issues",
                   "watch": "file_issues", "comments": "file_issues", "assign": "triage_issues", "metrics": "triage_issues"}

    def get_permissions(self):
        if self.action == "resolve":
            return [MayResolve()]
        capability = self.PERMISSIONS.get(self.action)
        if capability and not (self.action == "comments" and self.request.method == "GET"):
            return [has_capability(capability)()]
        return super().get_permissions()

    def get_queryset(self) -> QuerySet[DataIssue]:
        return selectors.list_issues(viewer=self.request.user)

    def _answer(self, issue: DataIssue, code: int = status.HTTP_200_OK) -> Response:
        return Response(serializers.DataIssueSerializer(selectors.get_issue(viewer=self.request.user, pk=issue.pk)).data,
                        status=code)

    @extend_schema(request=serializers.FileIssueInput, responses={201: serializers.DataIssueSerializer})
    def create(self, request: Request, *args, **kwargs) -> Response:
        """File an issue; the target is named by entity id (and attribute), source and key (and a second record), or source."""
        data = _valid(serializers.FileIssueInput, request)
        target = {name: value for name, value in data.pop("target").items() if value}
        return self._answer(services.file_issue(reporter=request.user, target=target, **data), status.HTTP_201_CREATED)

    @extend_schema(request=serializers.EditIssueInput, responses=serializers.DataIssueSerializer)
    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        """Edit title, description, priority, due date, expected value or tags; give the version you read."""
        issue = self.get_object()
        data = _valid(serializers.EditIssueInput, request)
        return self._answer(services.edit_issue(issue=issue, user=request.user, **data))

    @extend_schema(request=serializers.TransitionInput, responses=serializers.DataIssueSerializer)
    @action(detail=True, methods=["post"])
    def transition(self, request: Request, pk: str | None = None) -> Response:
        """Acknowledge, start, won't fix, close or reopen (status new); 409 when the workflow does not allow it."""
        issue = self.get_object()
        return self._answer(services.transition_issue(issue=issue, user=request.user, **_valid(serializers.TransitionInput, request)))

    @extend_schema(request=serializers.AssignInput, responses=serializers.DataIssueSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str | None = None) -> Response:
        """Route the issue to a steward or curator (stewards only)."""
        issue = self.get_object()
        data = _valid(serializers.AssignInput, request)
        assignee = services.find_user(data["assignee"]) if data["assignee"] else None
        return self._answer(services.assign_issue(issue=issue, user=request.user, assignee=assignee, version=data["version"]))

    @extend_schema(request=serializers.ResolveInput, responses=serializers.DataIssueSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        """Resolve, applying an action that fits the kind: merge (duplicate), split (wrongly merged), override or
        request_correction (wrong value: the issue then waits on the source's owner), link (missing record, outdated)."""
        issue = self.get_object()
        return self._answer(services.resolve_issue(issue=issue, user=request.user, **_valid(serializers.ResolveInput, request)))

    @extend_schema(responses=serializers.IssueMetricsSerializer)
    @action(detail=False, methods=["get"])
    def metrics(self, request: Request) -> Response:
        """Stewards' figures: open by kind/status/priority, median seconds to acknowledge and resolve (with how many
        issues each is over), overdue, issues per source and per 1,000 of its live records, filed and resolved per week."""
        return Response(metrics.issue_metrics(viewer=request.user))

    @extend_schema(request=serializers.WatchInput, responses=serializers.DataIssueSerializer)
    @action(detail=True, methods=["post"])
    def watch(self, request: Request, pk: str | None = None) -> Response:
        """Follow the issue (watching: true) or stop (false)."""
        issue = self.get_object()
        return self._answer(services.watch_issue(issue=issue, user=request.user, **_valid(serializers.WatchInput, request)))

    @extend_schema(methods=["GET"], request=None, responses=serializers.CommentSerializer(many=True))
    @extend_schema(methods=["POST"], request=serializers.CommentInput, responses={201: serializers.CommentSerializer})
    @action(detail=True, methods=["get", "post"])
    def comments(self, request: Request, pk: str | None = None) -> Response:
        """The issue's comments; POST adds one (at most 10,000 characters, @mentions notify)."""
        issue = self.get_object()
        if request.method == "GET":
            return list_response(request, selectors.list_comments(issue=issue), view=self,
                                 serializer_class=serializers.CommentSerializer, file_name=f"issue-{issue.pk}-comments.csv")
        comment = services.comment_on_issue(issue=issue, author=request.user, **_valid(serializers.CommentInput, request))
        return Response(serializers.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=serializers.IssueEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        """Every change to the issue, oldest first: who, when, what."""
        issue = self.get_object()
        return list_response(request, selectors.timeline(issue=issue), view=self,
                             serializer_class=serializers.IssueEventSerializer, file_name=f"issue-{issue.pk}-timeline.csv")


class NotificationViewSet(StreamingCSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Your notifications about issues you file, watch, are assigned or are mentioned in."""

    serializer_class = serializers.NotificationSerializer
    filter_backends = []

    def get_queryset(self) -> QuerySet[Notification]:
        return selectors.list_notifications(user=self.request.user)

    @extend_schema(request=serializers.ReadNotificationsInput,
                   responses=inline_serializer("NotificationsRead", {"read": drf_serializers.IntegerField()}))
    @action(detail=False, methods=["post"])
    def read(self, request: Request) -> Response:
        """Mark notifications read (all, or the given ids)."""
        data = _valid(serializers.ReadNotificationsInput, request)
        return Response({"read": services.mark_notifications_read(user=request.user, ids=data.get("ids"))})


router.register("issues", DataIssueViewSet, basename="issue")
router.register("notifications", NotificationViewSet, basename="notification")

"""REST for entities: golden records and memberships, one entity as the presenter builds it, its edits and history,
and what a run changed."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mastering import history, selectors
from mastering.api import entity_serializers as serializers
from mastering.edit_inputs import EDIT_INPUTS, MergeInput, MoveInput, OverrideInput, RemoveOverrideInput, SplitInput
from mastering.filters import EntityFilter, MembershipFilter
from mastering.models import Entity, EntityType, Membership, RunChange, ValueOverride
from mastering.presenters import present_entity
from steward.api.csv_export import stream_csv, wants_csv
from steward.api.lists import list_response
from steward.api.pagination import StandardPagination
from steward.api.permissions import has_capability
from steward.api_router import router
from steward.errors import InvalidInput

# Edits that have a path of their own under an entity: /api/entity-types/{slug}/entities/{id}/{edit}/.
CLUSTER_EDITS = ["split", "move", "merge", "pin", "unpin"]


def _entity(slug: str, entity_id) -> Entity:
    entity_type = get_object_or_404(EntityType, slug=slug)
    return get_object_or_404(Entity.objects.select_related("entity_type"), entity_type=entity_type, pk=entity_id)


def entity_detail(entity: Entity, **context) -> dict:
    """The entity as the page shows it, freshly read."""
    entity = selectors.list_entities(entity_type=entity.entity_type).get(pk=entity.pk)
    return serializers.EntityDetailSerializer(present_entity(entity), context=context).data


class EntityViewSet(viewsets.ReadOnlyModelViewSet):
    """Golden records with persistent ids and their member records; `?format=csv` streams every match."""

    filterset_class = EntityFilter
    serializer_class = serializers.EntitySerializer

    def entity_type(self) -> EntityType:
        return get_object_or_404(EntityType, slug=self.kwargs["slug"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Entity.objects.none()
        return selectors.list_entities(entity_type=self.entity_type())

    def list(self, request: Request, *args, **kwargs):
        if wants_csv(request):
            entity_type = self.entity_type()
            names = list(entity_type.attributes.values_list("name", flat=True))
            entities = self.filter_queryset(self.get_queryset())
            rows = (
                {"id": str(e.pk), **{f"golden.{n}": e.golden.get(n) for n in names}, "size": e.size,
                 "confidence": e.confidence, "pinned": e.pinned,
                 "members": ";".join(f"{m.record.source.slug}:{m.record.key}" for m in e.memberships.all()),
                 "model_version": e.changed_job.model.version if e.changed_job and e.changed_job.model else None,
                 "job_id": e.changed_job_id}
                for e in entities.iterator(chunk_size=2000)
            )
            header = ["id", *[f"golden.{n}" for n in names], "size", "confidence", "pinned", "members", "model_version", "job_id"]
            return stream_csv(rows, header=header, file_name=f"{entity_type.slug}-entities.csv")
        return super().list(request, *args, **kwargs)

    @extend_schema(responses=serializers.EntityDetailSerializer)
    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        """One entity: golden values with their origin, members and why each belongs, latest changes with who and why.
        A retired id answers with the entity that absorbed it (`redirected_from` says so)."""
        try:
            entity, old = selectors.resolve_entity(entity_type=self.entity_type(), entity_id=kwargs["pk"])
        except (Entity.DoesNotExist, ValueError, DjangoValidationError):
            raise Http404("No such entity.") from None
        return Response(entity_detail(entity, redirected_from=old))


class MembershipViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """One row per record: which entity it belongs to and why; `?format=csv` streams every match."""

    filterset_class = MembershipFilter
    serializer_class = serializers.MembershipSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return selectors.list_memberships(entity_type=get_object_or_404(EntityType, slug=self.kwargs["slug"]))

    def list(self, request: Request, *args, **kwargs):
        if wants_csv(request):
            memberships = self.filter_queryset(self.get_queryset())
            rows = ({"entity_id": str(m.entity_id), "source": m.record.source.slug, "key": m.record.key, "reason": m.reason,
                     "confidence": m.confidence, "job_id": m.job_id, "model_version": m.job.model.version if m.job and m.job.model else None}
                    for m in memberships.iterator(chunk_size=5000))
            return stream_csv(rows, header=["entity_id", "source", "key", "reason", "confidence", "job_id", "model_version"],
                              file_name=f"{self.kwargs['slug']}-memberships.csv")
        return super().list(request, *args, **kwargs)


router.register(r"entity-types/(?P<slug>[-\w]+)/entities", EntityViewSet, basename="entity")
router.register(r"entity-types/(?P<slug>[-\w]+)/memberships", MembershipViewSet, basename="membership")


class EntityEditView(APIView):
    """Cluster edits on one entity: split, move, merge, pin, unpin. Each needs a reason and holds in every later run."""

    permission_classes = [has_capability("curate")]

    @extend_schema(
        request=PolymorphicProxySerializer("EntityEdit", [SplitInput, MoveInput, MergeInput], None),
        responses={200: serializers.EntityDetailSerializer, 201: serializers.SplitResultSerializer},
        parameters=[OpenApiParameter("action", str, OpenApiParameter.PATH, enum=CLUSTER_EDITS)])
    def post(self, request: Request, slug: str, pk, action: str) -> Response:
        """split answers 201 with both entities; move, merge, pin and unpin answer 200 with the entity kept
        (pin and unpin take only a reason)."""
        if action not in CLUSTER_EDITS:
            raise NotFound(f"Unknown edit {action!r}.")
        payload = EDIT_INPUTS[action](data=request.data, context={"entity": _entity(slug, pk)})
        payload.is_valid(raise_exception=True)
        outcome = payload.apply(user=request.user)
        if outcome.split_into is not None:
            return Response({"entity": entity_detail(outcome.entity), "split_into": entity_detail(outcome.split_into)},
                            status=status.HTTP_201_CREATED)
        return Response(entity_detail(outcome.entity))


class OverrideView(APIView):
    """Override a golden value (it survives runs until removed)."""

    permission_classes = [has_capability("curate")]

    @extend_schema(request=OverrideInput, responses={201: serializers.EntityDetailSerializer})
    def post(self, request: Request, slug: str, pk) -> Response:
        payload = OverrideInput(data=request.data, context={"entity": _entity(slug, pk)})
        payload.is_valid(raise_exception=True)
        outcome = payload.apply(user=request.user)
        return Response({**entity_detail(outcome.entity), "override_id": outcome.override.pk}, status=status.HTTP_201_CREATED)


class OverrideDetailView(APIView):
    """Remove an override; the survivorship rule decides the value again."""

    permission_classes = [has_capability("curate")]

    @extend_schema(request=None, responses={200: serializers.EntityDetailSerializer})
    def delete(self, request: Request, override_id: int) -> Response:
        override = get_object_or_404(ValueOverride.objects.select_related("entity__entity_type"), pk=override_id)
        payload = RemoveOverrideInput(data={"override": override.pk}, context={"entity": override.entity})
        payload.is_valid(raise_exception=True)
        return Response(entity_detail(payload.apply(user=request.user).entity))


class HistoryView(APIView):
    """An entity's timeline, newest first, each change with who and why; with ?change=ID its state right after that
    change and the difference to now."""

    pagination_class = StandardPagination

    @extend_schema(parameters=[OpenApiParameter("change", int), OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
                   responses=PolymorphicProxySerializer("EntityHistory", [serializers.RunChangePageSerializer,
                                                                          serializers.PastStateSerializer], None))
    def get(self, request: Request, slug: str, pk) -> Response:
        entity = _entity(slug, pk)
        change_id = request.query_params.get("change")
        if not change_id:
            return list_response(request, history.timeline(entity), view=self, serializer_class=serializers.RunChangeSerializer)
        try:
            past = history.state_after(entity, int(change_id))
        except (RunChange.DoesNotExist, ValueError):
            raise NotFound("That change is not in this entity's history.") from None
        names = history.describe_records(past.members | set(past.members_in))
        return Response({
            "change": serializers.RunChangeSerializer(past.change).data,
            "members": sorted(names[r] for r in past.members if r in names),
            "golden": past.golden, "members_in_since": [names.get(r, r) for r in past.members_in],
            "members_out_since": [names.get(r, r) for r in past.members_out], "values_changed_since": past.values_changed,
            "changes_since": serializers.RunChangeSerializer(past.since, many=True).data,
        })


class ChangesView(APIView):
    """What a run changed across all entities (default: the last run), with counts per kind."""

    pagination_class = StandardPagination
    csv_list = True  # ?format=csv streams the changes (without the counts)

    @extend_schema(parameters=[OpenApiParameter("job", int), OpenApiParameter("kind", str), OpenApiParameter("page", int),
                               OpenApiParameter("page_size", int)], responses=serializers.RunChangesPageSerializer)
    def get(self, request: Request, slug: str) -> Response:
        entity_type = get_object_or_404(EntityType, slug=slug)
        job_id = request.query_params.get("job", "")
        if job_id and not job_id.isdigit():
            raise InvalidInput("job must be a job id (a whole number).")
        job_id = int(job_id) if job_id else getattr(selectors.last_master_job(entity_type=entity_type), "pk", None)
        changes, counts = selectors.run_changes(entity_type=entity_type, job_id=job_id, kind=request.query_params.get("kind", ""))
        return list_response(request, changes, view=self, serializer_class=serializers.RunChangeSerializer,
                             extra={"job": job_id, "counts": counts})

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mastering import selectors, services
from mastering.api import serializers
from mastering.api.uploads import RawTableParser, incoming_table, refuse_if_too_large
from mastering.filters import IngestBatchFilter, JobFilter, SourceFilter, SourceRecordFilter
from mastering.models import EntityType, IngestBatch, Job, Source, SourceRecord
from steward.api.csv_export import stream_csv, wants_csv
from steward.api.lists import StreamingCSVListMixin, csv_columns, list_response
from steward.api.metadata import ActionInputsMixin, NoInput
from steward.api.pagination import StandardPagination
from steward.api.schema import ErrorSerializer
from steward.api.permissions import IsAdminOrReadOnly, has_capability
from steward.api_router import router
from steward.errors import InvalidInput, NotFound


class SourceViewSet(StreamingCSVListMixin, mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Sources and their fields. Anyone signed in reads; admins create and change them."""

    lookup_field = "slug"
    filterset_class = SourceFilter
    permission_classes = [IsAdminOrReadOnly]
    ordering_fields = ["name", "priority", "created_at"]

    def get_queryset(self) -> QuerySet[Source]:
        return selectors.list_sources()

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"}:
            return serializers.SourceUpdateSerializer
        return serializers.SourceSerializer

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        serializer.instance = services.create_source(actor=self.request.user, owner=self.request.user, **data)

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        fields = data.pop("fields", None)
        serializer.instance = services.update_source(source=serializer.instance, actor=self.request.user, fields=fields, **data)


class SourceBatchesView(APIView):
    """Tables in: POST a CSV file (multipart `file` or a text/csv body), a JSON array, or JSON lines."""

    parser_classes = [MultiPartParser, RawTableParser]
    pagination_class = StandardPagination

    def get_permissions(self):
        if self.request.method == "POST":
            return [has_capability("ingest")()]
        return super().get_permissions()

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=IngestBatch.Status.values, many=True),
                    OpenApiParameter("channel", str, enum=IngestBatch.Channel.values, many=True),
                    OpenApiParameter("mode", str, enum=IngestBatch.Mode.values)],
        responses={200: serializers.IngestBatchSerializer(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        source = get_object_or_404(Source, slug=slug)
        batches = IngestBatchFilter(request.query_params, queryset=selectors.list_batches(source=source)).qs
        return list_response(request, batches, view=self, serializer_class=serializers.IngestBatchSerializer,
                             file_name=f"{source.slug}-batches.csv")

    @extend_schema(
        request={"multipart/form-data": serializers.BatchInput, "application/json": OpenApiTypes.OBJECT,
                 "text/csv": OpenApiTypes.STR, "application/x-ndjson": OpenApiTypes.STR},
        parameters=[
            OpenApiParameter("mode", str, enum=["append", "snapshot"],
                             description="snapshot retires records absent from the table; in either mode a column "
                                         "the table leaves out keeps each record's current value"),
            OpenApiParameter("partial", bool, description="keep the good rows and report the bad ones"),
        ],
        responses={
            201: serializers.IngestBatchSerializer,
            202: OpenApiResponse(serializers.IngestBatchSerializer, description="Large table: ingesting in the background; poll its url."),
            400: OpenApiResponse(ErrorSerializer, description="Rejected: `detail`, every problem, and the batch's fields "
                                                               "when the table was read."),
            413: OpenApiResponse(ErrorSerializer, description="Larger than the upload limit."),
            503: OpenApiResponse(ErrorSerializer, description="The source is busy with another batch; try again after Retry-After."),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        source = get_object_or_404(Source, slug=slug)
        refuse_if_too_large(request)
        options = serializers.BatchInput(data={**request.query_params.dict(), **_form_options(request)})
        options.is_valid(raise_exception=True)
        with incoming_table(request) as (stream, file_name):
            batch = services.receive_table(
                source=source, stream=stream, file_name=file_name, user=request.user,
                channel=IngestBatch.Channel.API, mode=options.validated_data["mode"],
                partial=options.validated_data["partial"],
            )
        body = serializers.IngestBatchSerializer(batch, context={"request": request}).data
        if batch.status == IngestBatch.Status.REJECTED:
            first = batch.problems[0]["reason"] if batch.problems else "the table was rejected"
            detail = first if batch.problems and batch.problems[0]["row"] == 0 else (
                f"The table was rejected: {batch.problem_count} problem{'s' if batch.problem_count != 1 else ''} "
                f"in {batch.rejected} row{'s' if batch.rejected != 1 else ''}; nothing was written."
            )
            return Response({"detail": detail, **body}, status=status.HTTP_400_BAD_REQUEST)
        code = status.HTTP_201_CREATED if batch.finished else status.HTTP_202_ACCEPTED
        return Response(body, status=code)


def _form_options(request: Request) -> dict:
    if request.content_type and request.content_type.startswith("multipart/"):
        return {key: request.data[key] for key in ("mode", "partial") if key in request.data}
    return {}


class IngestBatchViewSet(StreamingCSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Batches received, with counts, progress and problems."""

    serializer_class = serializers.IngestBatchSerializer
    filterset_class = IngestBatchFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self) -> QuerySet[IngestBatch]:
        return selectors.list_batches()

    @extend_schema(responses=serializers.ProblemSerializer(many=True), filters=False)
    @action(detail=True)
    def problems(self, request: Request, pk: str | None = None):
        """Every stored problem of the batch (CSV with ?format=csv)."""
        batch = self.get_object()
        return list_response(request, batch.problems, view=self, row=dict, columns=["row", "column", "value", "reason"],
                             file_name=f"batch-{batch.pk}-problems.csv")


class SourceRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Records of a source, filterable; `?format=csv` streams every matching record."""

    serializer_class = serializers.SourceRecordSerializer
    filterset_class = SourceRecordFilter
    lookup_field = "key"
    lookup_value_regex = ".+"

    def get_source(self) -> Source:
        return get_object_or_404(Source, slug=self.kwargs["slug"])

    def get_queryset(self) -> QuerySet[SourceRecord]:
        if getattr(self, "swagger_fake_view", False):
            return SourceRecord.objects.none()
        return selectors.list_records(source=self.get_source()).select_related("source")

    def get_permissions(self):
        if self.request.method == "PUT":
            return [has_capability("ingest")()]
        return super().get_permissions()

    def list(self, request: Request, *args, **kwargs):
        if wants_csv(request):
            source = self.get_source()
            names = [f.name for f in source.fields.all()]
            records = self.filter_queryset(self.get_queryset())
            rows = ({"key": r.key, "version": r.version, "retired": r.retired, "updated_at": r.updated_at.isoformat(),
                     **{n: r.data.get(n) for n in names}} for r in records.iterator(chunk_size=2000))
            return stream_csv(rows, header=["key", "version", "retired", "updated_at", *names], file_name=f"{source.slug}-records.csv")
        return super().list(request, *args, **kwargs)

    @extend_schema(request=serializers.RecordInput, responses={
        200: serializers.SourceRecordSerializer,
        503: OpenApiResponse(ErrorSerializer, description="The source is busy with a batch; try again after Retry-After."),
    })
    def update(self, request: Request, *args, **kwargs) -> Response:
        """Upsert one record (streaming ingest); returns it with its version."""
        payload = serializers.RecordInput(data=request.data)
        payload.is_valid(raise_exception=True)
        streamed = services.stream_record(
            source=self.get_source(), key=kwargs["key"], data=payload.validated_data["data"], user=request.user
        )
        body = serializers.SourceRecordSerializer(streamed.record).data
        if streamed.record.source.ingest_mode == Source.IngestMode.STREAM:
            # Where the record now belongs, per entity type its source feeds (flow 4).
            body["placements"] = [
                {"entity_type": p.entity_type.slug, "entity_id": str(p.entity.pk) if p.entity else None,
                 "url": p.entity.get_absolute_url() if p.entity else None, "action": p.action, "new": p.created,
                 "score": p.score, "moved_from": p.moved_from}
                for p in streamed.placements]
            if len(streamed.placements) == 1:
                body["entity_id"], body["new_entity"] = body["placements"][0]["entity_id"], streamed.placements[0].created
        return Response(body)


router.register("sources", SourceViewSet, basename="source")
router.register("batches", IngestBatchViewSet, basename="batch")
router.register(r"sources/(?P<slug>[-\w]+)/records", SourceRecordViewSet, basename="source-record")


class EntityTypeViewSet(ActionInputsMixin, StreamingCSVListMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Entity types with attributes and mappings. Admins create them; everyone signed in reads."""

    lookup_field = "slug"
    serializer_class = serializers.EntityTypeSerializer
    action_inputs = {"jobs": serializers.StartJobInput, "set_mappings": serializers.MappingSerializer}
    permission_classes = [IsAdminOrReadOnly]

    def get_queryset(self) -> QuerySet[EntityType]:
        return selectors.list_entity_types()

    def perform_create(self, serializer) -> None:
        serializer.instance = services.create_entity_type(actor=self.request.user, **serializer.validated_data)

    @extend_schema(responses=serializers.MatchModelSerializer(many=True), filters=False)
    @action(detail=True)
    def models(self, request: Request, slug: str | None = None) -> Response:
        """Model versions with their label counts and estimated quality, newest first."""
        models = self.get_object().models.order_by("-version")
        return list_response(request, models, view=self, serializer_class=serializers.MatchModelSerializer,
                             file_name=f"{slug}-models.csv")

    @extend_schema(methods=["GET"], responses=serializers.JobSerializer(many=True), filters=False)
    @extend_schema(methods=["POST"], request=serializers.StartJobInput, responses={202: serializers.JobSerializer})
    @action(detail=True, methods=["get", "post"], permission_classes=[IsAuthenticated])
    def jobs(self, request: Request, slug: str | None = None) -> Response:
        """POST {kind: train|master|golden} starts a job (202; poll its url). GET lists its jobs, newest first."""
        entity_type = self.get_object()
        if request.method == "GET":
            jobs = selectors.list_jobs().filter(entity_type=entity_type)
            return list_response(request, jobs, view=self, serializer_class=serializers.JobSerializer, file_name=f"{slug}-jobs.csv")
        if not request.user.has_perm("accounts.run_jobs"):
            raise PermissionDenied("Your role does not allow starting jobs.")
        payload = serializers.StartJobInput(data=request.data)
        payload.is_valid(raise_exception=True)
        job = services.start_job(entity_type=entity_type, kind=payload.validated_data["kind"], user=request.user,
                                 parameters=payload.validated_data["parameters"])
        job.refresh_from_db()
        return Response(serializers.JobSerializer(job, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[OpenApiParameter("source", str, required=True)], responses=serializers.MappingProposalSerializer(many=True),
                   filters=False)
    @action(detail=True, url_path="mappings/propose")
    def propose_mappings(self, request: Request, slug: str | None = None) -> Response:
        """Proposed field → attribute mappings for a source, by name similarity and shared values."""
        entity_type = self.get_object()
        source_slug = request.query_params.get("source", "").strip()
        if not source_slug:
            raise InvalidInput("Give the source to propose mappings for: ?source=<source slug>.")
        source = Source.objects.filter(slug=source_slug).first()
        if source is None:
            raise NotFound(f"No source {source_slug!r}.")
        proposals = services.propose_mappings(entity_type=entity_type, source=source)
        return list_response(request, proposals, view=self, row=dict, columns=csv_columns(serializers.MappingProposalSerializer()),
                             file_name=f"{slug}-{source.slug}-proposals.csv")

    @extend_schema(request=serializers.MappingSerializer(many=True), responses=serializers.EntityTypeSerializer)
    @action(detail=True, methods=["put"], url_path=r"mappings/(?P<source>[-\w]+)", permission_classes=[has_capability("configure")])
    def set_mappings(self, request: Request, slug: str | None = None, source: str | None = None) -> Response:
        """Replace how one source's fields feed the attributes."""
        entity_type = self.get_object()
        if not isinstance(request.data, list) or not all(isinstance(row, dict) for row in request.data):
            raise InvalidInput("Send a JSON array of mappings: [{field, attribute, transforms}].")
        payload = serializers.MappingSerializer(data=[{**row, "source": source} for row in request.data], many=True)
        payload.is_valid(raise_exception=True)
        services.set_mappings(entity_type=entity_type, source=get_object_or_404(Source, slug=source),
                              mappings=payload.validated_data, actor=request.user)
        return Response(serializers.EntityTypeSerializer(selectors.list_entity_types().get(pk=entity_type.pk)).data)


class JobViewSet(ActionInputsMixin, StreamingCSVListMixin, viewsets.ReadOnlyModelViewSet):
    """Jobs with live progress, counts, stage timings and errors."""

    serializer_class = serializers.JobSerializer
    action_inputs = {"cancel": NoInput}
    filterset_class = JobFilter
    ordering_fields = ["created_at", "id"]

    def get_queryset(self) -> QuerySet[Job]:
        return selectors.list_jobs()

    @extend_schema(request=None, responses=serializers.JobSerializer)
    @action(detail=True, methods=["post"], permission_classes=[has_capability("run_jobs")])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a queued job, or a running one whose worker is gone, at once; ask a live worker to stop it."""
        job = services.cancel_job(job=self.get_object(), user=request.user)
        return Response(serializers.JobSerializer(job, context={"request": request}).data)


router.register("entity-types", EntityTypeViewSet, basename="entity-type")
router.register("jobs", JobViewSet, basename="job")

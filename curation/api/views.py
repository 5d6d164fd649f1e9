import csv
import io

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as drf_serializers
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.generics import GenericAPIView
from rest_framework.views import APIView

from curation import selectors, services
from curation.api import serializers
from curation.filters import LabelFilter
from curation.models import CandidatePair, Label
from curation.presenters import pair_as_dict, present_pair
from curation.queue_state import next_for
from mastering.models import Entity, EntityType, SourceRecord
from mastering.selectors import MODEL_HEAVY_FIELDS
from mastering.api.uploads import refuse_if_too_large
from steward.api.csv_export import stream_csv, wants_csv
from steward.api.lists import list_response
from steward.api.schema import ErrorSerializer
from steward.api.metadata import ActionInputsMixin, NoInput
from steward.api.pagination import StandardPagination
from steward.api.permissions import follows_rule, has_capability
from steward.api_router import router
from steward.errors import InvalidInput, NotFound


def _entity_type(slug: str) -> EntityType:
    return get_object_or_404(EntityType, slug=slug)


class QueueNextView(APIView):
    """Claim the next pair to label (held for you for 10 minutes)."""

    permission_classes = [has_capability("label")]

    @extend_schema(request=None, responses={
        200: serializers.QueuePairSerializer,
        204: OpenApiResponse(description="Nothing to label now; with Retry-After while Steward prepares pairs."),
    })
    def post(self, request: Request, slug: str) -> Response:
        state = next_for(curator=request.user, entity_type=_entity_type(slug))
        if state.pair is None:
            headers = {"Retry-After": str(state.retry_after)} if state.retry_after else {}
            return Response(status=status.HTTP_204_NO_CONTENT, headers={**headers, "X-Queue-State": state.state})
        return Response(pair_as_dict(present_pair(state.pair)))


class QueueUndoView(APIView):
    """Take back your latest answer; the pair is handed back to you."""

    permission_classes = [has_capability("label")]

    @extend_schema(request=None, responses={200: serializers.QueuePairSerializer})
    def post(self, request: Request, slug: str) -> Response:
        pair = services.undo_last_answer(curator=request.user, entity_type=_entity_type(slug))
        return Response(pair_as_dict(present_pair(pair)))


class PairViewSet(ActionInputsMixin, viewsets.GenericViewSet):
    """Answer, skip or adjudicate candidate pairs."""

    # The proposing model comes along for the label's model_version, without its blob and training record.
    queryset = CandidatePair.objects.select_related("entity_type", "left__source", "right__source", "model").defer(
        *(f"model__{name}" for name in MODEL_HEAVY_FIELDS))
    action_inputs = {"answer": serializers.AnswerInput, "skip": NoInput, "adjudicate": serializers.AdjudicateInput}

    def get_permissions(self):
        capability = "adjudicate" if self.action in {"adjudicate", "disputed"} else "label"
        return [has_capability(capability)()]

    def get_object(self) -> CandidatePair:
        """The queryset's pair, read by one statement written once (selectors.pair_with_card): an answer is the
        hottest write, and compiling the five-table select_related cost more Python than the rest of it."""
        pair = selectors.pair_with_card(self.kwargs[self.lookup_url_kwarg or self.lookup_field])
        if pair is None:
            raise Http404
        self.check_object_permissions(self.request, pair)
        return pair

    @extend_schema(request=serializers.AnswerInput, responses={201: serializers.LabelSerializer})
    @action(detail=True, methods=["post"])
    def answer(self, request: Request, pk: str | None = None) -> Response:
        """Answer a pair you hold: match, distinct or unsure. 409 when you no longer hold it."""
        payload = serializers.AnswerInput(data=request.data)
        payload.is_valid(raise_exception=True)
        label = services.answer_pair(pair=self.get_object(), curator=request.user, **payload.validated_data)
        return Response(serializers.LabelSerializer(label).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def skip(self, request: Request, pk: str | None = None) -> Response:
        """Give the pair back without answering; it moves behind the others."""
        services.skip_pair(pair=self.get_object(), curator=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=serializers.AdjudicateInput, responses={201: serializers.LabelSerializer})
    @action(detail=True, methods=["post"])
    def adjudicate(self, request: Request, pk: str | None = None) -> Response:
        """Settle a pair curators disagree on (stewards)."""
        payload = serializers.AdjudicateInput(data=request.data)
        payload.is_valid(raise_exception=True)
        label = services.adjudicate_pair(pair=self.get_object(), steward=request.user, **payload.validated_data)
        return Response(serializers.LabelSerializer(label).data, status=status.HTTP_201_CREATED)


class LabelListView(GenericAPIView):
    """Labels of an entity type: list (filterable; `?format=csv`) and import."""

    parser_classes = [JSONParser, MultiPartParser]
    filterset_class = LabelFilter
    serializer_class = serializers.LabelSerializer
    pagination_class = StandardPagination

    def get_queryset(self) -> QuerySet[Label]:
        if getattr(self, "swagger_fake_view", False):
            return Label.objects.none()
        return selectors.list_labels(entity_type=_entity_type(self.kwargs["slug"]))

    def get_permissions(self):
        if self.request.method == "POST":
            return [has_capability("label")()]
        return super().get_permissions()

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return serializers.LabelImportRowSerializer
        return super().get_serializer_class()

    @extend_schema(responses=serializers.LabelSerializer(many=True))
    def get(self, request: Request, slug: str):
        labels = self.filter_queryset(self.get_queryset())
        if wants_csv(request):
            rows = ({"id": l.pk, "left_source": l.pair.left.source.slug, "left_key": l.pair.left.key,
                     "right_source": l.pair.right.source.slug, "right_key": l.pair.right.key, "answer": l.answer,
                     "origin": l.origin, "curator": l.curator.username, "seconds_spent": l.seconds_spent,
                     "model_version": l.model.version if l.model else None, "created_at": l.created_at.isoformat(),
                     "revoked_at": l.revoked_at.isoformat() if l.revoked_at else None} for l in labels.iterator(chunk_size=2000))
            return stream_csv(rows, header=LABEL_CSV_COLUMNS, file_name=f"{slug}-labels.csv")
        page = self.paginate_queryset(labels)
        return self.get_paginated_response(serializers.LabelSerializer(page, many=True).data)

    @extend_schema(
        request={"application/json": serializers.LabelImportRowSerializer(many=True),
                 "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
        responses={201: inline_serializer("LabelImport", {"imported": drf_serializers.IntegerField()}),
                   413: OpenApiResponse(ErrorSerializer, description="Larger than 20 MB.")},
    )
    def post(self, request: Request, slug: str) -> Response:
        """Import labels: a JSON list of {left: {source, key}, right: {source, key}, answer}, or a CSV file
        with columns left_source, left_key, right_source, right_key, answer."""
        refuse_if_too_large(request, LABEL_FILE_LIMIT)
        if "file" in request.FILES:
            rows = csv_label_rows(request.FILES["file"])
        else:
            payload = serializers.LabelImportRowSerializer(data=request.data, many=True)
            payload.is_valid(raise_exception=True)
            rows = payload.validated_data
        result = services.import_labels(entity_type=_entity_type(slug), rows=rows, curator=request.user)
        return Response(result, status=status.HTTP_201_CREATED)


LABEL_FILE_LIMIT = 20 * 1024 * 1024
LABEL_CSV_COLUMNS = ["id", "left_source", "left_key", "right_source", "right_key", "answer", "origin", "curator", "seconds_spent",
                     "model_version", "created_at", "revoked_at"]


def csv_label_rows(upload) -> list[dict]:
    """Rows of a label CSV (left_source, left_key, right_source, right_key, answer) as import dicts."""
    text = upload.read(LABEL_FILE_LIMIT + 1)
    if len(text) > LABEL_FILE_LIMIT:
        raise InvalidInput("A label file may be at most 20 MB.")
    try:
        reader = csv.DictReader(io.StringIO(text.decode("utf-8-sig")))
        needed = {"left_source", "left_key", "right_source", "right_key", "answer"}
        if not needed <= set(reader.fieldnames or []):
            raise InvalidInput(f"The CSV needs the columns {', '.join(sorted(needed))}.")
        return [{"left": {"source": r["left_source"], "key": r["left_key"]},
                 "right": {"source": r["right_source"], "key": r["right_key"]}, "answer": r["answer"]} for r in reader]
    except UnicodeDecodeError:
        raise InvalidInput("The label file must be UTF-8 CSV.") from None


class LabelViewSet(ActionInputsMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One label; revoke it to stop training on it (it is kept for the record)."""

    serializer_class = serializers.LabelSerializer
    action_inputs = {"revoke": serializers.RevokeInput}

    def get_queryset(self) -> QuerySet[Label]:
        return selectors.list_labels()

    @extend_schema(request=serializers.RevokeInput, responses=serializers.LabelSerializer)
    @action(detail=True, methods=["post"], permission_classes=[
        has_capability("label"), follows_rule("curation.revoke_label", "Only its curator or a steward can revoke a label.")])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        label = self.get_object()
        payload = serializers.RevokeInput(data=request.data)
        payload.is_valid(raise_exception=True)
        label = services.revoke_label(label=label, by=request.user, reason=payload.validated_data["reason"])
        return Response(serializers.LabelSerializer(label).data)


class DisputedPairsView(APIView):
    """Pairs whose curators disagree, waiting for a steward."""

    permission_classes = [has_capability("adjudicate")]
    pagination_class = StandardPagination

    @extend_schema(responses=serializers.DisputedPairSerializer(many=True))
    def get(self, request: Request, slug: str) -> Response:
        pairs = selectors.disputed_pairs(entity_type=_entity_type(slug)).order_by("pk")
        return list_response(request, pairs, view=self, serializer_class=serializers.DisputedPairSerializer,
                             file_name=f"{slug}-disputes.csv")


router.register("pairs", PairViewSet, basename="pair")
router.register("labels", LabelViewSet, basename="label")


class MatchFeedbackView(APIView):
    """Confirm or reject a proposed match: labels with origin "match feedback" for the next training."""

    permission_classes = [has_capability("label")]

    @extend_schema(request=serializers.MatchFeedbackInput, responses={201: serializers.LabelSerializer(many=True), 400: ErrorSerializer,
                                                          404: ErrorSerializer, 409: ErrorSerializer})
    def post(self, request: Request, slug: str) -> Response:
        entity_type = _entity_type(slug)
        payload = serializers.MatchFeedbackInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        record = SourceRecord.objects.filter(source__slug=data["record"]["source"], key=data["record"]["key"]).select_related("source").first()
        if record is None:
            raise NotFound(f"No record {data['record']['source']}:{data['record']['key']}; store it (PUT) before giving feedback.")
        entity = Entity.objects.filter(pk=data["entity"]).first()
        if entity is None:
            raise NotFound(f"No entity {data['entity']}.")
        labels = services.give_match_feedback(entity_type=entity_type, record=record, entity=entity,
                                              answer=data["answer"], curator=request.user)
        return Response(serializers.LabelSerializer(labels, many=True, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)

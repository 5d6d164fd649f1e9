"""Match API: candidate entities for one record, read-only (flow 4)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mastering.match_presenter import present_match
from mastering.models import EntityType, Source
from mastering.services.matching import MAX_LIMIT, find_matches, probe_values
from steward.api.schema import ErrorSerializer
from steward.api.serializers import StrictSerializer
from steward.errors import NotFound


class MatchInput(StrictSerializer):
    record = serializers.JSONField(help_text="Values by attribute name, or by field name when `source` is given.")
    source = serializers.SlugField(required=False, help_text="A source mapped into the entity type; record uses its field names.")
    limit = serializers.IntegerField(required=False, default=5, help_text=f"Candidates to return, 1 to {MAX_LIMIT}.")
    threshold = serializers.FloatField(required=False, allow_null=True, default=None,
                                       help_text="Score a match must exceed, 0 to 1 (default: the entity type's).")


def resolve_source(slug: str | None) -> Source | None:
    if not slug:
        return None
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        raise NotFound(f"No source {slug!r}.")
    return source


class MatchView(APIView):
    """POST {record, source?, limit?, threshold?} → candidate entities with scores, explanations and a decision."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=MatchInput, responses={
        200: OpenApiResponse(description="{entity_type, model_version, threshold, values, decision, candidates, lookup}"),
        400: ErrorSerializer, 404: ErrorSerializer,
        409: OpenApiResponse(ErrorSerializer, description="No trained model yet (train first), or the index is of another model."),
        413: ErrorSerializer})
    def post(self, request: Request, slug: str) -> Response:
        entity_type = get_object_or_404(EntityType, slug=slug)
        payload = MatchInput(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        values = probe_values(entity_type=entity_type, record=data["record"], source=resolve_source(data.get("source")))
        result = find_matches(entity_type=entity_type, values=values, limit=data["limit"], threshold=data["threshold"])
        return Response(present_match(result))

"""REST for survivorship rules (preview, apply) and match diagnostics (score distribution, threshold)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from curation import selectors
from mastering.models import Attribute, EntityType
from mastering.services import entities as entity_services
from steward.api.permissions import has_capability
from steward.api.serializers import StrictSerializer


class RuleInput(StrictSerializer):
    rule = serializers.ChoiceField(choices=Attribute.Rule.choices)


class ThresholdInput(StrictSerializer):
    threshold = serializers.FloatField(min_value=0.01, max_value=0.99)


class RuleView(APIView):
    """GET ?rule=… previews a survivorship rule change; POST {rule} applies it and recomputes golden records in a job."""

    def get_permissions(self):
        # Anyone signed in may read a preview (it changes nothing); applying a rule needs edit_rules.
        return [has_capability("edit_rules")()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(parameters=[OpenApiParameter("rule", str, required=True)], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str, attribute: str) -> Response:
        attr = get_object_or_404(Attribute, entity_type__slug=slug, name=attribute)
        return Response(entity_services.preview_rule_change(entity_type=attr.entity_type, attribute=attr,
                                                            rule=request.query_params.get("rule", "")))

    @extend_schema(request=RuleInput, responses={202: OpenApiTypes.OBJECT})
    def post(self, request: Request, slug: str, attribute: str) -> Response:
        attr = get_object_or_404(Attribute.objects.select_related("entity_type"), entity_type__slug=slug, name=attribute)
        payload = RuleInput(data=request.data)
        payload.is_valid(raise_exception=True)
        job = entity_services.change_rule(attribute=attr, rule=payload.validated_data["rule"], user=request.user)
        return Response({"job": job.pk, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class DiagnosticsView(APIView):
    """Score distribution, precision and recall against the threshold (from the labels); POST {threshold} sets it."""

    def get_permissions(self):
        return [has_capability("edit_rules")()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request: Request, slug: str) -> Response:
        data = selectors.diagnostics(entity_type=get_object_or_404(EntityType, slug=slug))
        return Response({"threshold": data["threshold"], "labels": data["labels"], "pairs": data["pairs"],
                         "histogram": [{"from": i / 20, "to": (i + 1) / 20, "pairs": n} for i, n in enumerate(data["histogram"])],
                         "curve": data["curve"], "last_run": getattr(data["last_run"], "pk", None),
                         "model_version": getattr(data["model"], "version", None)})

    @extend_schema(request=ThresholdInput, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request, slug: str) -> Response:
        payload = ThresholdInput(data=request.data)
        payload.is_valid(raise_exception=True)
        entity_type = entity_services.set_threshold(entity_type=get_object_or_404(EntityType, slug=slug),
                                                    threshold=payload.validated_data["threshold"], user=request.user)
        return Response({"threshold": entity_type.match_threshold})

"""REST for cluster review: edits, overrides, history, last-run changes, survivorship rules, diagnostics."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from curation import selectors, services
from curation.api.serializers import RecordRefSerializer
from mastering import history
from mastering.mapping import projection_for
from mastering import selectors as mastering_selectors
from mastering.api.serializers import EntityDetailSerializer
from mastering.models import Attribute, Entity, EntityType, RunChange, SourceRecord, ValueOverride
from mastering.services import entities as entity_services
from steward.api.lists import list_response
from steward.api.pagination import StandardPagination
from steward.api.permissions import has_capability
from steward.api.serializers import StrictModelSerializer, StrictSerializer
from steward.errors import InvalidInput


class EditInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class SplitInput(EditInput):
    records = RecordRefSerializer(many=True)


class MoveInput(EditInput):
    record = RecordRefSerializer()
    target = serializers.UUIDField()


class MergeInput(EditInput):
    others = serializers.ListField(child=serializers.UUIDField(), min_length=1)


class OverrideInput(EditInput):
    attribute = serializers.CharField()
    value = serializers.CharField(allow_blank=True, max_length=10_000)


class RuleInput(StrictSerializer):
    rule = serializers.ChoiceField(choices=Attribute.Rule.choices)


class ThresholdInput(StrictSerializer):
    threshold = serializers.FloatField(min_value=0.01, max_value=0.99)


class RunChangeSerializer(StrictModelSerializer):
    by = serializers.SerializerMethodField()
    reason = serializers.CharField(source="edit.reason", default=None, allow_null=True)

    class Meta:
        model = RunChange
        fields = ["id", "entity_id", "kind", "job", "edit", "by", "reason", "added", "removed", "golden_before",
                  "golden_after", "related", "created_at"]

    def get_by(self, change: RunChange) -> str | None:
        if change.edit_id and change.edit.user:
            return change.edit.user.username
        if change.job_id:
            return f"run #{change.job_id}"
        return None


class SplitResultSerializer(StrictSerializer):
    entity = EntityDetailSerializer()
    split_into = EntityDetailSerializer()


class PastStateSerializer(StrictSerializer):
    change = RunChangeSerializer()
    members = serializers.ListField(child=serializers.CharField())
    golden = serializers.DictField()
    members_in_since = serializers.ListField(child=serializers.CharField())
    members_out_since = serializers.ListField(child=serializers.CharField())
    values_changed_since = serializers.ListField(child=serializers.CharField())
    changes_since = RunChangeSerializer(many=True)


class RunChangePageSerializer(StrictSerializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RunChangeSerializer(many=True)


class RunChangesPageSerializer(RunChangePageSerializer):
    job = serializers.IntegerField(allow_null=True, help_text="The run; by default the last mastering run.")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Changes of each kind in the run, whatever `kind` asks.")


def _entity(slug: str, entity_id) -> Entity:
    entity_type = get_object_or_404(EntityType, slug=slug)
    return get_object_or_404(Entity.objects.select_related("entity_type"), entity_type=entity_type, pk=entity_id)


def _records(entity_type: EntityType, refs: list[dict]) -> list[int]:
    """Record ids for {source, key} references, among the sources mapped into the entity type only."""
    source_ids = projection_for(entity_type).source_ids
    ids = []
    for ref in refs:
        record = SourceRecord.objects.filter(source_id__in=source_ids, source__slug=ref["source"], key=ref["key"]).first()
        if record is None:
            raise InvalidInput(f"No record {ref['source']}:{ref['key']}.")
        ids.append(record.pk)
    return ids


def _detail(entity: Entity) -> dict:
    entity = mastering_selectors.list_entities(entity_type=entity.entity_type).get(pk=entity.pk)
    return EntityDetailSerializer(entity).data


class EntityEditView(APIView):
    """Cluster edits on one entity: split, move, merge, pin, unpin. Each needs a reason and holds in every later run."""

    permission_classes = [has_capability("curate")]
    inputs = {"split": SplitInput, "move": MoveInput, "merge": MergeInput, "pin": EditInput, "unpin": EditInput}

    @extend_schema(request=SplitInput, responses={200: EntityDetailSerializer, 201: SplitResultSerializer}, parameters=[
        OpenApiParameter("action", str, OpenApiParameter.PATH, enum=["split", "move", "merge", "pin", "unpin"])])
    def post(self, request: Request, slug: str, pk, action: str) -> Response:
        """split answers 201 with both entities; move, merge, pin and unpin answer 200 with the entity kept."""
        if action not in self.inputs:
            raise NotFound(f"Unknown edit {action!r}.")
        entity = _entity(slug, pk)
        payload = self.inputs[action](data=request.data)
        payload.is_valid(raise_exception=True)
        data, user, reason = payload.validated_data, request.user, payload.validated_data["reason"]
        with transaction.atomic():
            if action == "split":
                _, created = services.split_records(entity=entity, records=_records(entity.entity_type, data["records"]), user=user, reason=reason)
                return Response({"entity": _detail(entity), "split_into": _detail(created)}, status=status.HTTP_201_CREATED)
            if action == "move":
                target = _entity(slug, data["target"])
                (record,) = _records(entity.entity_type, [data["record"]])
                services.move_record(entity=entity, record=record, target=target, user=user, reason=reason)
                return Response(_detail(target))
            if action == "merge":
                others = [_entity(slug, other) for other in data["others"]]
                services.merge_entities(survivor=entity, others=others, user=user, reason=reason)
                return Response(_detail(entity))
            services.pin_entity(entity=entity, user=user, reason=reason, pinned=action == "pin")
            return Response(_detail(entity))


class OverrideView(APIView):
    """Override a golden value (it survives runs until removed)."""

    permission_classes = [has_capability("curate")]

    @extend_schema(request=OverrideInput, responses={201: EntityDetailSerializer})
    def post(self, request: Request, slug: str, pk) -> Response:
        entity = _entity(slug, pk)
        payload = OverrideInput(data=request.data)
        payload.is_valid(raise_exception=True)
        attribute = get_object_or_404(Attribute, entity_type=entity.entity_type, name=payload.validated_data["attribute"])
        override = entity_services.override_value(entity=entity, attribute=attribute, value=payload.validated_data["value"],
                                                  user=request.user, reason=payload.validated_data["reason"])
        return Response({**_detail(entity), "override_id": override.pk}, status=status.HTTP_201_CREATED)


class OverrideDetailView(APIView):
    """Remove an override; the survivorship rule decides the value again."""

    permission_classes = [has_capability("curate")]

    @extend_schema(request=None, responses={200: EntityDetailSerializer})
    def delete(self, request: Request, override_id: int) -> Response:
        override = get_object_or_404(ValueOverride.objects.select_related("entity__entity_type", "attribute"), pk=override_id)
        entity_services.remove_override(override=override, user=request.user)
        return Response(_detail(override.entity))


class HistoryView(APIView):
    """An entity's timeline, newest first; with ?change=ID its state right after that change and the difference to now."""

    pagination_class = StandardPagination

    @extend_schema(parameters=[OpenApiParameter("change", int), OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
                   responses=PolymorphicProxySerializer("EntityHistory", [RunChangePageSerializer, PastStateSerializer], None))
    def get(self, request: Request, slug: str, pk) -> Response:
        entity = _entity(slug, pk)
        change_id = request.query_params.get("change")
        if not change_id:
            return list_response(request, history.timeline(entity), view=self, serializer_class=RunChangeSerializer)
        try:
            past = history.state_after(entity, int(change_id))
        except (RunChange.DoesNotExist, ValueError):
            raise NotFound("That change is not in this entity's history.") from None
        names = history.describe_records(past.members | set(past.members_in))
        return Response({
            "change": RunChangeSerializer(past.change).data, "members": sorted(names[r] for r in past.members if r in names),
            "golden": past.golden, "members_in_since": [names.get(r, r) for r in past.members_in],
            "members_out_since": [names.get(r, r) for r in past.members_out], "values_changed_since": past.values_changed,
            "changes_since": RunChangeSerializer(past.since, many=True).data,
        })


class ChangesView(APIView):
    """What a run changed across all entities (default: the last run), with counts per kind."""

    pagination_class = StandardPagination
    csv_list = True  # ?format=csv streams the changes (without the counts)

    @extend_schema(parameters=[OpenApiParameter("job", int), OpenApiParameter("kind", str), OpenApiParameter("page", int),
                               OpenApiParameter("page_size", int)], responses=RunChangesPageSerializer)
    def get(self, request: Request, slug: str) -> Response:
        entity_type = get_object_or_404(EntityType, slug=slug)
        job_id = request.query_params.get("job", "")
        if job_id and not job_id.isdigit():
            raise InvalidInput("job must be a job id (a whole number).")
        job_id = int(job_id) if job_id else getattr(mastering_selectors.last_master_job(entity_type=entity_type), "pk", None)
        changes, counts = mastering_selectors.run_changes(entity_type=entity_type, job_id=job_id,
                                                          kind=request.query_params.get("kind", ""))
        return list_response(request, changes, view=self, serializer_class=RunChangeSerializer, extra={"job": job_id, "counts": counts})


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

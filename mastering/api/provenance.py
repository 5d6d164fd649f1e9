"""REST for provenance: the lineage of an entity (optionally as it was after a run), a golden value, two members
("why together?"), a source record, a batch and a job. Read-only; any signed-in role may read what the pages show,
and an object that does not exist (or is not of the type named in the path) is a 404 whatever the role."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mastering import selectors
from mastering.models import Attribute, Entity, EntityType, RunChange, Source, SourceRecord
from mastering.provenance import as_json
from mastering.provenance import lineage as lineages
from mastering.provenance.pairs import NotMembers, why_together
from steward.errors import InvalidInput


class NodeSerializer(serializers.Serializer):
    id = serializers.CharField()
    kind = serializers.CharField(help_text="value, entity, record, version, batch, file, job, model, labels, edit, ...")
    kind_words = serializers.CharField()
    label = serializers.CharField()
    url = serializers.CharField(allow_blank=True, help_text="The page of the thing (blank when it has none).")
    detail = serializers.CharField(allow_blank=True)


class EdgeSerializer(serializers.Serializer):
    source = serializers.CharField(help_text="Upstream node id.")
    target = serializers.CharField(help_text="Downstream node id.")
    label = serializers.CharField()


class GraphSerializer(serializers.Serializer):
    focus = serializers.CharField()
    nodes = NodeSerializer(many=True)
    edges = EdgeSerializer(many=True)


class ActivityBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    summary = serializers.CharField(allow_blank=True)
    user = serializers.CharField(allow_null=True)
    started_at = serializers.DateTimeField()


class ActivitiesSerializer(serializers.Serializer):
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Activities per kind.")
    latest = ActivityBriefSerializer(many=True)


class PartnerSerializer(serializers.Serializer):
    record_id = serializers.IntegerField()
    label = serializers.CharField()
    score = serializers.FloatField()


class ReasonSerializer(serializers.Serializer):
    record_id = serializers.IntegerField()
    source = serializers.CharField()
    key = serializers.CharField()
    reason = serializers.CharField()
    text = serializers.CharField(help_text="Why it is a member, in words.")
    job_id = serializers.IntegerField(allow_null=True)
    model_version = serializers.IntegerField(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    by = serializers.CharField(allow_null=True)
    why = serializers.CharField(allow_blank=True)
    issue_ids = serializers.ListField(child=serializers.IntegerField())
    partner = PartnerSerializer(allow_null=True)


class EntityLineageSerializer(serializers.Serializer):
    entity_id = serializers.UUIDField()
    entity_type = serializers.CharField()
    run = serializers.IntegerField(allow_null=True)
    golden = serializers.DictField(child=serializers.CharField(allow_null=True))
    members = ReasonSerializer(many=True)
    models = serializers.ListField(child=serializers.DictField())
    merged_ids = serializers.ListField(child=serializers.UUIDField())
    changes = serializers.ListField(child=serializers.DictField())
    before_last_run_change_id = serializers.IntegerField(allow_null=True)
    graph = GraphSerializer()
    activities = ActivitiesSerializer()


class ValueLineageSerializer(serializers.Serializer):
    entity_id = serializers.UUIDField()
    attribute = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    rule = serializers.CharField()
    rule_words = serializers.CharField()
    stale = serializers.BooleanField()
    rule_choice = serializers.CharField(allow_null=True)
    origin = serializers.DictField(allow_null=True, help_text="source, key, version, batch_id, file_name, file_row, at, data")
    rivals = serializers.ListField(child=serializers.DictField())
    override = serializers.DictField(allow_null=True)
    graph = GraphSerializer()
    activities = ActivitiesSerializer()


class TogetherSerializer(serializers.Serializer):
    left = serializers.DictField()
    right = serializers.DictField()
    model_version = serializers.IntegerField(allow_null=True)
    job_id = serializers.IntegerField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    score = serializers.FloatField(allow_null=True)
    stored_score = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True)
    contributions = serializers.ListField(child=serializers.DictField())
    path = serializers.ListField(child=serializers.DictField())
    path_above_threshold = serializers.BooleanField()
    pairs_kept = serializers.BooleanField()


class RecordLineageSerializer(serializers.Serializer):
    source = serializers.CharField()
    key = serializers.CharField()
    version = serializers.IntegerField()
    retired = serializers.BooleanField()
    file_row = serializers.IntegerField(allow_null=True)
    timeline = serializers.ListField(child=serializers.DictField())
    memberships = serializers.ListField(child=serializers.DictField())
    graph = GraphSerializer()
    activities = ActivitiesSerializer()


class BatchLineageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    file_name = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    job_id = serializers.IntegerField(allow_null=True)
    records_now = serializers.IntegerField()
    superseded_versions = serializers.IntegerField()
    later_runs = serializers.ListField(child=serializers.IntegerField())
    graph = GraphSerializer()
    activities = ActivitiesSerializer()


class JobLineageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    model_version = serializers.IntegerField(allow_null=True)
    changes = serializers.DictField(child=serializers.IntegerField())
    parameters = serializers.DictField()
    counts = serializers.DictField()
    graph = GraphSerializer()
    activities = ActivitiesSerializer()


def _entity(slug: str, pk) -> Entity:
    """The live entity; a merged id answers for the entity that took its records."""
    entity_type = get_object_or_404(EntityType, slug=slug)
    try:
        return selectors.resolve_entity(entity_type=entity_type, entity_id=pk)[0]
    except Entity.DoesNotExist:
        raise Http404("No such entity.") from None


def _whole_number(request: Request, name: str, *, required: bool = False) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        if required:
            raise InvalidInput(f"{name} is required: a record id of this entity.")
        return None
    if not raw.isdigit():
        raise InvalidInput(f"{name} must be a whole number.")
    return int(raw)


class EntityLineageView(APIView):
    """Why each member is in the entity, the models, labels and runs behind it, merged ids, past changes and the
    lineage graph; with ?run=ID as it was right after that run."""

    @extend_schema(parameters=[OpenApiParameter("run", int, description="A run that changed the entity.")],
                   responses=EntityLineageSerializer)
    def get(self, request: Request, slug: str, pk) -> Response:
        entity = _entity(slug, pk)
        try:
            lineage = lineages.entity_lineage(entity, run=_whole_number(request, "run"))
        except RunChange.DoesNotExist as exc:
            raise InvalidInput(str(exc)) from None
        return Response(as_json.entity_json(lineage))


class ValueLineageView(APIView):
    """Where one golden value came from: rule, record version, batch, file row; the values it beat; any override."""

    @extend_schema(responses=ValueLineageSerializer)
    def get(self, request: Request, slug: str, pk, attribute: str) -> Response:
        entity = _entity(slug, pk)
        try:
            lineage, story = lineages.value_lineage(entity, attribute)
        except Attribute.DoesNotExist:
            raise Http404("No such attribute.") from None
        return Response(as_json.value_json(lineage, story))


class WhyTogetherView(APIView):
    """For two members (?a=RECORD_ID&b=RECORD_ID): the model's score, each attribute's part, the chain of pairs."""

    @extend_schema(parameters=[OpenApiParameter("a", int, required=True), OpenApiParameter("b", int, required=True)],
                   responses=TogetherSerializer)
    def get(self, request: Request, slug: str, pk) -> Response:
        entity = _entity(slug, pk)
        left, right = _whole_number(request, "a", required=True), _whole_number(request, "b", required=True)
        try:
            return Response(as_json.together_json(why_together(entity, left, right)))
        except NotMembers as exc:
            raise InvalidInput(str(exc)) from None


class RecordLineageView(APIView):
    """A source record's timeline (versions, batches, file rows, entities joined and left) and lineage graph."""

    @extend_schema(responses=RecordLineageSerializer)
    def get(self, request: Request, slug: str, key: str) -> Response:
        source = get_object_or_404(Source, slug=slug)
        try:
            record = selectors.get_record(source=source, key=key)
        except SourceRecord.DoesNotExist:
            raise Http404("No such record.") from None
        return Response(as_json.record_json(lineages.record_lineage(record)))


class BatchLineageView(APIView):
    """A batch: its file and ingest job, the records it wrote, and the runs that read its source since."""

    @extend_schema(responses=BatchLineageSerializer)
    def get(self, request: Request, slug: str, batch_id: int) -> Response:
        source = get_object_or_404(Source, slug=slug)
        batch = get_object_or_404(selectors.list_batches(source=source).defer(*selectors.BATCH_HEAVY_FIELDS), pk=batch_id)
        return Response(as_json.batch_json(lineages.batch_lineage(batch)))


class JobLineageView(APIView):
    """A run as inputs → run → outputs."""

    @extend_schema(responses=JobLineageSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        job = get_object_or_404(selectors.list_jobs(), pk=job_id)
        return Response(as_json.job_json(lineages.job_lineage(job)))

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mastering.models import (
    Attribute,
    EntityType,
    IngestBatch,
    Job,
    MatchModel,
    Source,
    SourceField,
    SourceRecord,
)
from steward.api.serializers import StrictModelSerializer, StrictSerializer


class SourceFieldSerializer(StrictModelSerializer):
    class Meta:
        model = SourceField
        fields = ["name", "type", "required", "description", "max_length"]


class SourceSerializer(StrictModelSerializer):
    fields = SourceFieldSerializer(many=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    record_count = serializers.IntegerField(read_only=True, default=None, allow_null=True)
    missing_values = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50,
        help_text="Cell values stored as missing (empty), matched on the whole trimmed cell, ignoring case. "
                  f"Empty unless given; a common choice is {list(Source.COMMON_MISSING_VALUES)}.",
    )

    class Meta:
        model = Source
        fields = [
            "name", "slug", "description", "owner", "key_field", "active", "ingest_mode", "priority", "missing_values",
            "fields", "record_count", "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False}}


class SourceUpdateSerializer(SourceSerializer):
    """PUT replaces the whole source, so every writable field is required; PATCH changes what it names."""

    class Meta(SourceSerializer.Meta):
        extra_kwargs = {"slug": {"read_only": True}}

    def get_fields(self):
        fields = super().get_fields()
        if not self.partial:
            for field in fields.values():
                if not field.read_only:
                    field.required = True
        return fields


class CountsSerializer(StrictSerializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    retired = serializers.IntegerField()


class ProblemSerializer(StrictSerializer):
    row = serializers.IntegerField(help_text="Spreadsheet row: the header is row 1, the first record row 2; 0 for the whole file.")
    column = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()


class IngestBatchSerializer(StrictModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    counts = CountsSerializer(read_only=True)
    problems = ProblemSerializer(many=True, read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:batch-detail")
    progress = serializers.FloatField(read_only=True, allow_null=True, help_text="Share of rows read (0..1) while it runs.")
    eta_seconds = serializers.IntegerField(read_only=True, allow_null=True, help_text="Seconds left at the pace so far.")
    job = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True,
                                             help_text="The job running it (cancel it there); null for a streamed record.")

    class Meta:
        model = IngestBatch
        fields = [
            "id", "url", "source", "user", "channel", "file_name", "checksum", "size_bytes", "mode", "partial",
            "status", "counts", "rows_read", "rows_expected", "progress", "eta_seconds", "problem_count", "problems",
            "warnings", "timings", "error", "job",
            "created_at", "started_at", "finished_at",
        ]


class BatchInput(serializers.Serializer):  # built from the query string, where ?format= is not its business: not strict
    file = serializers.FileField(required=False, help_text="A CSV, JSON array or JSON lines file (multipart).")
    mode = serializers.ChoiceField(choices=IngestBatch.Mode.choices, default=IngestBatch.Mode.APPEND)
    partial = serializers.BooleanField(default=False)


class SourceRecordSerializer(StrictModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = SourceRecord
        fields = ["source", "key", "version", "retired", "data", "content_hash", "changed_batch", "created_at", "updated_at"]


class RecordInput(StrictSerializer):
    data = serializers.DictField(help_text="Field values of the record; the key comes from the address.")


class AttributeSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    comparator = serializers.ChoiceField(choices=Attribute.Comparator.choices, default="String")
    has_missing = serializers.BooleanField(default=True)
    survivorship = serializers.ChoiceField(choices=Attribute.Rule.choices, default="most_frequent")


class MappingSerializer(StrictSerializer):
    source = serializers.SlugField()
    field = serializers.CharField()
    attribute = serializers.CharField()
    transforms = serializers.ListField(child=serializers.CharField(), default=list)


class EntityTypeSerializer(StrictModelSerializer):
    attributes = AttributeSerializer(many=True)
    mappings = MappingSerializer(many=True, required=False, write_only=True)
    mapped = serializers.SerializerMethodField()
    active_model_version = serializers.SerializerMethodField()

    class Meta:
        model = EntityType
        fields = ["name", "slug", "description", "match_threshold", "retrain_every", "overlap", "blind", "one_per_source",
                  "training_sample_size", "random_pair_share", "attributes", "mappings", "mapped", "active_model_version",
                  "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"slug": {"required": False}}

    def get_mapped(self, entity_type) -> list[dict]:
        return [{"source": m.source.slug, "field": m.field.name, "attribute": m.attribute.name, "transforms": m.transforms}
                for attribute in entity_type.attributes.all() for m in attribute.mappings.all()]

    def get_active_model_version(self, entity_type) -> int | None:
        model = entity_type.active_model
        return model.version if model else None


class MatchModelSerializer(StrictModelSerializer):
    class Meta:
        model = MatchModel
        fields = ["version", "active", "label_count", "match_count", "distinct_count", "precision", "recall", "f1",
                  "predicates", "metrics", "job", "created_at"]


class JobSerializer(StrictModelSerializer):
    entity_type = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                               help_text="The entity type it works for; null for an ingest.")
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True,
                                          help_text="The source an ingest writes to; null for other kinds.")
    batch = serializers.SerializerMethodField(help_text="An ingest's batch (counts, problems); null for other kinds.")
    started_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    model_version = serializers.IntegerField(source="model.version", default=None, read_only=True, allow_null=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:job-detail")

    class Meta:
        model = Job
        fields = ["id", "url", "entity_type", "source", "batch", "kind", "status", "stage", "progress", "eta_seconds",
                  "counts", "timings", "parameters", "model_version", "started_by", "error", "cancel_requested",
                  "created_at", "started_at", "finished_at"]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_batch(self, job: Job) -> int | None:
        batch = getattr(job, "batch", None)  # the reverse one-to-one raises when there is none
        return batch.pk if batch is not None else None


class StartJobInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=["train", "master", "golden"])
    parameters = serializers.DictField(required=False, default=dict)


class MappingProposalSerializer(StrictSerializer):
    field = serializers.CharField()
    attribute = serializers.CharField()
    score = serializers.FloatField()
    reason = serializers.CharField()
    transforms = serializers.ListField(child=serializers.CharField())

from rest_framework import serializers

from mastering.models import IngestBatch, Source, SourceField, SourceRecord


class SourceFieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = SourceField
        fields = ["name", "type", "required", "description"]


class SourceSerializer(serializers.ModelSerializer):
    fields = SourceFieldSerializer(many=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    record_count = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = Source
        fields = [
            "name", "slug", "description", "owner", "key_field", "active", "ingest_mode", "priority",
            "fields", "record_count", "created_at", "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False}}


class SourceUpdateSerializer(SourceSerializer):
    fields = SourceFieldSerializer(many=True, required=False)

    class Meta(SourceSerializer.Meta):
        extra_kwargs = {"name": {"required": False}, "key_field": {"required": False}, "slug": {"read_only": True}}


class CountsSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()
    retired = serializers.IntegerField()


class ProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="Spreadsheet row: the header is row 1, the first record row 2; 0 for the whole file.")
    column = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()


class IngestBatchSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    counts = CountsSerializer(read_only=True)
    problems = ProblemSerializer(many=True, read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:batch-detail")

    class Meta:
        model = IngestBatch
        fields = [
            "id", "url", "source", "user", "channel", "file_name", "checksum", "size_bytes", "mode", "partial",
            "status", "counts", "rows_read", "problem_count", "problems", "warnings", "timings", "error",
            "created_at", "started_at", "finished_at",
        ]


class BatchInput(serializers.Serializer):
    file = serializers.FileField(required=False, help_text="A CSV, JSON array or JSON lines file (multipart).")
    mode = serializers.ChoiceField(choices=IngestBatch.Mode.choices, default=IngestBatch.Mode.APPEND)
    partial = serializers.BooleanField(default=False)


class SourceRecordSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = SourceRecord
        fields = ["source", "key", "version", "retired", "data", "content_hash", "changed_batch", "created_at", "updated_at"]


class RecordInput(serializers.Serializer):
    data = serializers.DictField(help_text="Field values of the record; the key comes from the address.")

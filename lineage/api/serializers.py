from rest_framework import serializers

from lineage.models import Activity, ActivityObject, RunEvent
from steward.api.serializers import StrictInputMixin, StrictModelSerializer


class ActivityObjectSerializer(StrictModelSerializer):
    type = serializers.SerializerMethodField()

    class Meta:
        model = ActivityObject
        fields = ["role", "type", "object_id", "label"]

    def get_type(self, obj: ActivityObject) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"


class ActivitySerializer(StrictModelSerializer):
    user = serializers.CharField(source="user.username", default=None, read_only=True, allow_null=True)
    actor = serializers.SerializerMethodField()
    objects = ActivityObjectSerializer(source="links", many=True, read_only=True)

    class Meta:
        model = Activity
        fields = ["id", "kind", "summary", "user", "actor", "parameters", "started_at", "ended_at", "objects"]

    def get_actor(self, obj: Activity) -> str | None:
        if obj.actor_type_id is None:
            return None
        return f"{obj.actor_type.app_label}.{obj.actor_type.model}:{obj.actor_id}"


class RunEventSerializer(StrictInputMixin, serializers.Serializer):
    """One OpenLineage RunEvent, exactly as stored and sent (the spec's JSON, not a Steward shape)."""

    eventType = serializers.ChoiceField(choices=RunEvent.EventType.choices, read_only=True)  # noqa: N815
    eventTime = serializers.DateTimeField(read_only=True)  # noqa: N815
    producer = serializers.CharField(read_only=True)
    schemaURL = serializers.CharField(read_only=True)  # noqa: N815
    run = serializers.JSONField(read_only=True, help_text="runId and run facets.")
    job = serializers.JSONField(read_only=True, help_text="namespace, name and job facets.")
    inputs = serializers.JSONField(read_only=True)
    outputs = serializers.JSONField(read_only=True)

    def to_representation(self, instance: RunEvent) -> dict:
        return instance.document

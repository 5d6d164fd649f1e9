from rest_framework import serializers

from lineage.models import Activity, ActivityObject
from steward.api.serializers import StrictModelSerializer


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

"""Entities over the API: lists, the entity as the presenter builds it (the page shows the same), and its history."""

from rest_framework import serializers

from mastering.models import Entity, Membership, RunChange
from steward.api.serializers import StrictModelSerializer, StrictSerializer


class MemberRefSerializer(StrictSerializer):
    source = serializers.CharField()
    key = serializers.CharField()


class EntitySerializer(StrictModelSerializer):
    golden = serializers.DictField()
    members = serializers.SerializerMethodField()
    model_version = serializers.IntegerField(source="changed_job.model.version", default=None, read_only=True, allow_null=True)
    job_id = serializers.IntegerField(source="changed_job_id", read_only=True, allow_null=True)

    class Meta:
        model = Entity
        fields = ["id", "golden", "members", "size", "confidence", "pinned", "model_version", "job_id", "created_at", "updated_at"]

    def get_members(self, entity) -> list[dict]:
        return [{"source": m.record.source.slug, "key": m.record.key} for m in entity.memberships.all()]


class GoldenValueSerializer(StrictSerializer):
    attribute = serializers.CharField(source="name")
    value = serializers.CharField(allow_null=True)
    rule = serializers.CharField(help_text="The survivorship rule that chose it, or `override`.")
    origin = serializers.DictField(help_text="Where it came from: record, source, key, version; for an override, by and reason.")
    member_values = serializers.SerializerMethodField(help_text="Each member's value, in the order of `memberships`.")

    def get_member_values(self, row) -> list[str | None]:
        return [cell.value for cell in row.cells]


class MemberWhySerializer(StrictSerializer):
    source = serializers.CharField()
    key = serializers.CharField()
    reason = serializers.ChoiceField(source="membership.reason", choices=Membership.Reason.choices)
    confidence = serializers.FloatField(source="membership.confidence", allow_null=True)
    job_id = serializers.IntegerField(source="membership.job_id", allow_null=True)
    why = serializers.CharField(help_text="Why the record belongs, in words.")


class RunChangeSerializer(StrictModelSerializer):
    by = serializers.CharField(source="attribution.by", help_text="The user, or the run (`run #id`), that made the change.")
    reason = serializers.CharField(source="attribution.why", help_text="Why: the edit's or override's reason, or the run's kind.")

    class Meta:
        model = RunChange
        fields = ["id", "entity_id", "kind", "job", "edit", "by", "reason", "added", "removed", "golden_before",
                  "golden_after", "related", "created_at"]


class EntityDetailSerializer(StrictSerializer):
    """One entity as `mastering.presenters.present_entity` builds it."""

    id = serializers.UUIDField(source="entity.id")
    golden = serializers.DictField(source="entity.golden")
    members = MemberRefSerializer(many=True)
    size = serializers.IntegerField(source="entity.size")
    confidence = serializers.FloatField(source="entity.confidence", allow_null=True)
    pinned = serializers.BooleanField(source="entity.pinned")
    model_version = serializers.IntegerField(source="entity.changed_job.model.version", default=None, allow_null=True)
    job_id = serializers.IntegerField(source="entity.changed_job_id", allow_null=True)
    created_at = serializers.DateTimeField(source="entity.created_at")
    updated_at = serializers.DateTimeField(source="entity.updated_at")
    provenance = serializers.DictField(source="entity.provenance")
    redirected_from = serializers.SerializerMethodField()
    values = GoldenValueSerializer(source="golden_values", many=True, help_text="Each golden value with its rule and origin.")
    memberships = MemberWhySerializer(source="members", many=True, help_text="Each member and why it belongs.")
    changes = RunChangeSerializer(many=True, help_text="The latest changes, newest first, each with who and why.")

    def get_redirected_from(self, view) -> str | None:
        old = self.context.get("redirected_from")
        return str(old) if old else None


class MembershipSerializer(StrictModelSerializer):
    entity_id = serializers.UUIDField()
    source = serializers.CharField(source="record.source.slug")
    key = serializers.CharField(source="record.key")
    job_id = serializers.IntegerField(allow_null=True)
    model_version = serializers.IntegerField(source="job.model.version", default=None, allow_null=True)

    class Meta:
        model = Membership
        fields = ["entity_id", "source", "key", "reason", "confidence", "job_id", "model_version"]


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

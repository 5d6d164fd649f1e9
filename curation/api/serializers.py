from rest_framework import serializers

from curation.models import CandidatePair, Label
from steward.api.serializers import StrictModelSerializer, StrictSerializer


class RecordRefSerializer(StrictSerializer):
    source = serializers.CharField()
    key = serializers.CharField()


class RecordSideSerializer(RecordRefSerializer):
    data = serializers.DictField()


class PairAttributeSerializer(StrictSerializer):
    name = serializers.CharField()
    left = serializers.CharField(allow_null=True)
    right = serializers.CharField(allow_null=True)
    differs = serializers.BooleanField()
    contribution = serializers.FloatField(allow_null=True, help_text="Log-odds this attribute adds; null when blind.")


class QueuePairSerializer(StrictSerializer):
    id = serializers.IntegerField()
    left = RecordSideSerializer()
    right = RecordSideSerializer()
    score = serializers.FloatField(allow_null=True, help_text="Match probability; null in blind mode or before a model.")
    lease_expires = serializers.DateTimeField()
    origin = serializers.CharField()
    attributes = PairAttributeSerializer(many=True)


class AnswerInput(StrictSerializer):
    answer = serializers.ChoiceField(choices=Label.Answer.choices)
    seconds_spent = serializers.FloatField(required=False, min_value=0, allow_null=True)


class LabelSerializer(StrictModelSerializer):
    curator = serializers.CharField(source="curator.username", read_only=True)
    left = serializers.SerializerMethodField()
    right = serializers.SerializerMethodField()
    model_version = serializers.IntegerField(source="model.version", default=None, read_only=True, allow_null=True)
    entity_type = serializers.CharField(source="pair.entity_type.slug", read_only=True)

    class Meta:
        model = Label
        fields = ["id", "pair", "entity_type", "left", "right", "answer", "origin", "origin_note", "curator", "seconds_spent",
                  "model_version", "created_at", "revoked_at", "revoke_reason"]

    def get_left(self, label: Label) -> dict:
        return {"source": label.pair.left.source.slug, "key": label.pair.left.key}

    def get_right(self, label: Label) -> dict:
        return {"source": label.pair.right.source.slug, "key": label.pair.right.key}


class LabelImportRowSerializer(StrictSerializer):
    left = RecordRefSerializer()
    right = RecordRefSerializer()
    answer = serializers.CharField()


class RevokeInput(StrictSerializer):
    reason = serializers.CharField(max_length=200)


class AdjudicateInput(StrictSerializer):
    answer = serializers.ChoiceField(choices=[Label.Answer.MATCH, Label.Answer.DISTINCT])


class DisputedPairSerializer(StrictModelSerializer):
    left = serializers.SerializerMethodField()
    right = serializers.SerializerMethodField()
    answers = serializers.SerializerMethodField()

    class Meta:
        model = CandidatePair
        fields = ["id", "left", "right", "status", "answers"]

    def get_left(self, pair: CandidatePair) -> dict:
        return {"source": pair.left.source.slug, "key": pair.left.key}

    def get_right(self, pair: CandidatePair) -> dict:
        return {"source": pair.right.source.slug, "key": pair.right.key}

    def get_answers(self, pair: CandidatePair) -> list[dict]:
        return [{"curator": label.curator.username, "answer": label.answer}
                for label in pair.labels.all() if label.revoked_at is None]


class MatchFeedbackInput(StrictSerializer):
    record = RecordRefSerializer(help_text="The stored record that was matched: {source, key}.")
    entity = serializers.UUIDField(help_text="The entity proposed for it.")
    answer = serializers.ChoiceField(choices=["confirm", "reject"], help_text="confirm → match labels; reject → not a match.")

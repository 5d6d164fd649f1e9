from rest_framework import serializers

from feedback.models import Comment, DataIssue, IssueAction, IssueEvent, Notification
from feedback.models.issues import MAX_DESCRIPTION
from feedback.models.timeline import MAX_COMMENT
from steward.api.serializers import StrictSerializer

USERNAME = {"slug_field": "username", "read_only": True}


class TargetInput(StrictSerializer):
    """What the issue is about: an entity (and attribute), a source record (and a second one for a pair), or a source."""

    entity_type = serializers.SlugField(required=False, allow_blank=True, help_text="Checked against the entity or records.")
    entity = serializers.CharField(required=False, allow_blank=True, max_length=64,
                                   help_text="Persistent entity id; a merged-away id follows its redirect.")
    attribute = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text="One golden value of the entity.")
    source = serializers.SlugField(required=False, allow_blank=True)
    key = serializers.CharField(required=False, allow_blank=True, max_length=255)
    other_source = serializers.SlugField(required=False, allow_blank=True)
    other_key = serializers.CharField(required=False, allow_blank=True, max_length=255)


class FileIssueInput(StrictSerializer):
    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=DataIssue.Kind.choices)
    target = TargetInput()
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION, help_text="Markdown.")
    priority = serializers.ChoiceField(choices=DataIssue.Priority.choices, required=False,
                                       help_text="Left out: the kind's default priority (admin), else normal.")
    expected_value = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
    due_date = serializers.DateField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=10)


class EditIssueInput(StrictSerializer):
    version = serializers.IntegerField(min_value=1, help_text="The version you read; an older one is a 409.")
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
    priority = serializers.ChoiceField(choices=DataIssue.Priority.choices, required=False)
    expected_value = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
    due_date = serializers.DateField(required=False, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False, max_length=10)


class TransitionInput(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    status = serializers.ChoiceField(choices=[s for s in DataIssue.Status.choices if s[0] != DataIssue.Status.RESOLVED],
                                     help_text="new reopens the issue; resolve it with the resolve action.")
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)


class AssignInput(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    assignee = serializers.CharField(allow_null=True, allow_blank=True, max_length=150, help_text="Username; null unassigns.")


class ResolveInput(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    action = serializers.ChoiceField(choices=DataIssue.Resolution.choices, default=DataIssue.Resolution.NO_ACTION)
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION)
    records = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000,
                                    help_text="split: the records (ids) to take out of the entity.")
    entities = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=1,
                                     help_text="merge on an entity issue: the entity to merge into it.")
    value = serializers.CharField(required=False, allow_blank=True, max_length=MAX_DESCRIPTION,
                                  help_text="override: the right value (default: the value the reporter expected).")
    field = serializers.CharField(required=False, max_length=100,
                                  help_text="request_correction on a record issue: the source field holding the wrong value.")
    batch = serializers.IntegerField(required=False, min_value=1, help_text="link: the ingest batch that fixes the issue.")
    source = serializers.SlugField(required=False, help_text="link: the source of the record that fixes the issue.")
    key = serializers.CharField(required=False, max_length=255, help_text="link: that record's key.")


class CommentInput(StrictSerializer):
    body = serializers.CharField(max_length=MAX_COMMENT, help_text="Markdown; @username mentions notify that person.")


class WatchInput(StrictSerializer):
    watching = serializers.BooleanField(default=True)


class ReadNotificationsInput(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=1000,
                                help_text="Leave out to mark every notification read.")


class DataIssueSerializer(serializers.ModelSerializer):
    reporter = serializers.SlugRelatedField(**USERNAME)
    assignee = serializers.SlugRelatedField(**USERNAME, allow_null=True)
    entity_type = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    entity = serializers.UUIDField(source="entity_id", read_only=True, allow_null=True)
    attribute = serializers.SlugRelatedField(slug_field="name", read_only=True, allow_null=True)
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    record = serializers.SerializerMethodField()
    other_record = serializers.SerializerMethodField()
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True)
    resolution = serializers.ChoiceField(choices=DataIssue.Resolution.choices, allow_blank=True, read_only=True,
                                         help_text="Empty until the issue is resolved.")

    class Meta:
        model = DataIssue
        fields = ["id", "title", "kind", "status", "priority", "description", "target", "target_label", "entity_type",
                  "entity", "attribute", "value_when_filed", "expected_value", "source", "record", "other_record",
                  "reporter", "assignee", "tags", "due_date", "resolution", "resolution_note", "acknowledged_at",
                  "resolved_at", "version", "created_at", "updated_at", "url"]
        read_only_fields = fields

    def _record(self, record) -> dict | None:
        return {"source": record.source.slug, "key": record.key, "id": record.pk} if record else None

    def get_record(self, issue: DataIssue) -> dict | None:
        return self._record(issue.record)

    def get_other_record(self, issue: DataIssue) -> dict | None:
        return self._record(issue.other_record)


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(**USERNAME)
    mentions = serializers.SlugRelatedField(**USERNAME, many=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "body", "mentions", "created_at"]
        read_only_fields = fields


class IssueActionSerializer(serializers.ModelSerializer):
    edit = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    override = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    labels = serializers.PrimaryKeyRelatedField(read_only=True, many=True)
    activity = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    batch = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True, help_text="link: the batch that fixes it.")
    record = serializers.SerializerMethodField(help_text="link or correction: the record, as {source, key}.")

    class Meta:
        model = IssueAction
        fields = ["id", "kind", "edit", "override", "labels", "entities", "batch", "record", "activity", "created_at"]
        read_only_fields = fields


    def get_record(self, action: IssueAction) -> dict | None:
        return {"source": action.record.source.slug, "key": action.record.key} if action.record_id and action.record else None


class IssueEventSerializer(serializers.ModelSerializer):
    actor = serializers.SlugRelatedField(**USERNAME, allow_null=True)
    comment = CommentSerializer(read_only=True, allow_null=True)
    action = IssueActionSerializer(read_only=True, allow_null=True)

    class Meta:
        model = IssueEvent
        fields = ["id", "kind", "actor", "changes", "comment", "action", "created_at"]
        read_only_fields = fields


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "issue", "text", "read_at", "created_at"]
        read_only_fields = fields


class IssueMetricsCount(serializers.Serializer):
    value = serializers.CharField(help_text="As the issue list's filter takes it.")
    label = serializers.CharField()
    count = serializers.IntegerField()


class IssueMetricsMedian(serializers.Serializer):
    median_seconds = serializers.IntegerField(allow_null=True, help_text="null until an issue has got there.")
    issues = serializers.IntegerField(help_text="How many issues the median is over.")


class IssueMetricsSource(serializers.Serializer):
    source = serializers.SlugField()
    name = serializers.CharField()
    issues = serializers.IntegerField()
    open = serializers.IntegerField()
    records = serializers.IntegerField(help_text="Live (not retired) records of the source.")
    per_1000_records = serializers.FloatField(allow_null=True)


class IssueMetricsWeek(serializers.Serializer):
    week = serializers.DateField(help_text="The Monday the week starts on.")
    filed = serializers.IntegerField()
    resolved = serializers.IntegerField()


class IssueMetricsSerializer(serializers.Serializer):
    """Describes /api/issues/metrics/ (the figures are built by feedback.metrics.issue_metrics)."""

    as_of = serializers.DateField()
    total = serializers.IntegerField()
    open = serializers.IntegerField()
    overdue = serializers.IntegerField()
    entity_issues_without_source = serializers.IntegerField(help_text="Issues on entities or values: left out of `sources`.")
    open_by_kind = IssueMetricsCount(many=True)
    open_by_status = IssueMetricsCount(many=True)
    open_by_priority = IssueMetricsCount(many=True)
    time_to_acknowledge = IssueMetricsMedian()
    time_to_resolve = IssueMetricsMedian()
    sources = IssueMetricsSource(many=True)
    weeks = IssueMetricsWeek(many=True)

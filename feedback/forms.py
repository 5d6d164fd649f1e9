from django import forms

from feedback.models import DataIssue
from feedback.models.issues import MAX_DESCRIPTION
from feedback.models.timeline import MAX_COMMENT

TARGET_FIELDS = ("entity_type", "entity", "attribute", "source", "key", "other_source", "other_key")


class TargetForm(forms.Form):
    """The target as the page that links to the form names it (query string, then hidden fields)."""

    entity_type = forms.SlugField(required=False, widget=forms.HiddenInput)
    entity = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
    attribute = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput)
    source = forms.SlugField(required=False, widget=forms.HiddenInput)
    key = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)
    other_source = forms.SlugField(required=False, widget=forms.HiddenInput)
    other_key = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    def target(self) -> dict:
        return {name: self.cleaned_data[name] for name in TARGET_FIELDS if self.cleaned_data.get(name)}


class IssueForm(TargetForm):
    kind = forms.ChoiceField(choices=DataIssue.Kind.choices)
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 5}),
                                  help_text="Markdown. Raw HTML is shown as text; script and javascript: links are refused.")
    expected_value = forms.CharField(required=False, max_length=MAX_DESCRIPTION, label="What it should be")
    priority = forms.TypedChoiceField(choices=[("", "The kind's default"), *DataIssue.Priority.choices], coerce=int,
                                      required=False, empty_value=None)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated.")

    def issue_fields(self) -> dict:
        data = {name: self.cleaned_data[name] for name in ("kind", "title", "description", "expected_value", "priority",
                                                            "due_date")}
        return {**data, "tags": [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]}


class CommentForm(forms.Form):
    body = forms.CharField(max_length=MAX_COMMENT, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="Markdown; @username notifies that person.")


class TransitionForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=DataIssue.Status.choices)
    note = forms.CharField(required=False, max_length=MAX_DESCRIPTION)


class AssignForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    assignee = forms.CharField(required=False, max_length=150, help_text="Username; empty unassigns.")


class ResolveForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    action = forms.ChoiceField(choices=DataIssue.Resolution.choices)
    note = forms.CharField(required=False, max_length=MAX_DESCRIPTION)
    records = forms.TypedMultipleChoiceField(required=False, coerce=int, choices=[])
    entity = forms.CharField(required=False, max_length=64, label="Entity to merge in")
    value = forms.CharField(required=False, max_length=MAX_DESCRIPTION, label="Right value")
    field = forms.CharField(required=False, max_length=100, label="Source field to correct",
                            help_text="Correction request on a record issue: the field holding the wrong value.")
    batch = forms.IntegerField(required=False, min_value=1, label="Batch that fixes it (id)")
    link_source = forms.SlugField(required=False, label="Record that fixes it: source")
    link_key = forms.CharField(required=False, max_length=255, label="… and key")

    def __init__(self, *args, record_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["records"].choices = list(record_choices)

    def resolution(self) -> dict:
        data = self.cleaned_data
        fields = {"action": data["action"], "note": data["note"], "version": data["version"], "records": data["records"] or None,
                  "entities": [data["entity"]] if data["entity"] else None}
        if data["value"]:
            fields["value"] = data["value"]
        for name, given in (("field", "field"), ("batch", "batch"), ("source", "link_source"), ("key", "link_key")):
            if data.get(given):
                fields[name] = data[given]
        return fields


class EditIssueForm(forms.Form):
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, max_length=MAX_DESCRIPTION, widget=forms.Textarea(attrs={"rows": 4}))
    expected_value = forms.CharField(required=False, max_length=MAX_DESCRIPTION, label="What it should be")
    priority = forms.TypedChoiceField(choices=DataIssue.Priority.choices, coerce=int)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated.")

    @classmethod
    def for_issue(cls, issue: DataIssue) -> "EditIssueForm":
        return cls(initial={"version": issue.version, "title": issue.title, "description": issue.description,
                            "expected_value": issue.expected_value, "priority": issue.priority, "due_date": issue.due_date,
                            "tags": ", ".join(t.name for t in issue.tags.all())})

    def changes(self) -> dict:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
        return data

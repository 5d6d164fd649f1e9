from django import forms

from mastering.models import IngestBatch


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (any common delimiter, UTF-8 or Latin-1), a JSON array of objects, or JSON lines.")


class IngestOptionsForm(forms.Form):
    mode = forms.ChoiceField(choices=IngestBatch.Mode.choices, initial=IngestBatch.Mode.APPEND, widget=forms.RadioSelect)
    partial = forms.BooleanField(required=False, label="Keep the good rows and report the bad ones (instead of all-or-nothing)")

from django import forms

from mastering.models import IngestBatch, Source


class ValueListField(forms.CharField):
    """A short list of texts, written comma-separated in one input and cleaned to a list."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, (list, tuple)) else value

    def to_python(self, value) -> list[str]:
        return [part.strip() for part in super().to_python(value).split(",") if part.strip()]


def missing_values_field() -> ValueListField:
    """The input for a source's missing values, offering the common ones as the example."""
    common = ", ".join(Source.COMMON_MISSING_VALUES)
    return ValueListField(
        required=False, label="Treat these values as missing",
        widget=forms.TextInput(attrs={"placeholder": f"e.g. {common}", "size": 60}),
        help_text=f"{Source._meta.get_field('missing_values').help_text} Separate them with commas; "
                  "leave empty to keep every value as written.",
    )


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV (any common delimiter; UTF-8, UTF-16 with a byte order mark, or Latin-1), "
                                     "a JSON array of objects, or JSON lines.")


class IngestOptionsForm(forms.Form):
    mode = forms.ChoiceField(choices=IngestBatch.Mode.choices, initial=IngestBatch.Mode.APPEND, widget=forms.RadioSelect)
    partial = forms.BooleanField(required=False, label="Keep the good rows and report the bad ones (instead of all-or-nothing)")

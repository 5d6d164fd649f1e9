from django import forms

from curation.models import Label


class QueueActionForm(forms.Form):
    """One of: answer (pair + answer), skip (pair + skip), undo, or nothing (a poll while pairs are prepared)."""

    pair = forms.IntegerField(required=False)
    answer = forms.ChoiceField(choices=Label.Answer.choices, required=False)
    skip = forms.BooleanField(required=False)
    undo = forms.BooleanField(required=False)
    seconds_spent = forms.FloatField(required=False, min_value=0)

    def clean(self):
        data = super().clean()
        if data.get("undo"):
            data["action"] = "undo"
        elif data.get("skip") or data.get("answer"):
            data["action"] = "skip" if data.get("skip") else "answer"
            if not data.get("pair"):
                raise forms.ValidationError("Which pair?")
        else:
            data["action"] = "poll"
        return data


class AdjudicateForm(forms.Form):
    pair = forms.IntegerField()
    answer = forms.ChoiceField(choices=[(Label.Answer.MATCH, "Match"), (Label.Answer.DISTINCT, "Not a match")])

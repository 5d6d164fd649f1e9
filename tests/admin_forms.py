"""Post a Django admin change form the way a browser does: everything on the page, plus what the test changes."""

from django import forms


def _bound_values(form: forms.BaseForm) -> dict:
    data = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple) and not isinstance(bound.field, forms.JSONField):
            data[bound.html_name] = [str(v) for v in value]
        elif value is None:
            data[bound.html_name] = ""
        else:
            data[bound.html_name] = bound.field.prepare_value(value) if isinstance(bound.field, forms.JSONField) else str(value)
    return data


def form_data(response) -> dict:
    """The admin page's main form and inline formsets (management forms included) as POST data."""
    data = _bound_values(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_bound_values(formset.management_form))
        for form in formset.forms:
            data.update(_bound_values(form))
    return data


"""Admin pages whose saves go through the services: a service's refusal shows on the form, never as a 500."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.db import transaction
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect

from steward.errors import ServiceError


def _refusing(form_class: type[forms.ModelForm], refusal: ServiceError) -> type[forms.ModelForm]:
    class Refused(form_class):
        def clean(self):
            super().clean()
            raise forms.ValidationError(refusal.message)

    return Refused


def inline_rows(formset: BaseInlineFormSet, keys: tuple[str, ...], *, with_ids: bool = False) -> list[dict]:
    """The rows an inline formset asks for, kept and new, in the order of their position: deleted and blank ones left out."""
    rows = []
    for index, form in enumerate(formset.forms):
        if form in formset.deleted_forms or not (form.instance.pk or form.has_changed()):
            continue
        row = {key: form.cleaned_data[key] for key in keys if key in form.cleaned_data}
        if with_ids and form.instance.pk:
            row["id"] = form.instance.pk
        rows.append((form.cleaned_data.get("position") or 0, index, row))
    return [row for _, _, row in sorted(rows, key=lambda r: r[:2])]


class ServiceModelAdmin(admin.ModelAdmin):
    """A ModelAdmin whose subclasses save and delete through services.

    Django runs save_model, save_related and delete_model inside one transaction per request; a ServiceError
    raised there rolls it back, and the page is shown again with the service's message on the form.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as refusal:
            request.service_refusal = refusal  # the second pass validates the same POST and fails with this message
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "service_refusal", None)
        return form if refusal is None else _refusing(form, refusal)

    def construct_change_message(self, request, form, formsets, add):
        # The service wrote the inline rows, not formset.save(), so the admin log names the changed fields only.
        return construct_change_message(form, [], add)

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ServiceError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.path)

    def changelist_view(self, request, extra_context=None):
        try:
            return super().changelist_view(request, extra_context)
        except ServiceError as refusal:  # from delete_queryset, which undid all of its deletes
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_queryset(self, request, queryset) -> None:
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse

from curation import services
from curation.models import CandidatePair, Label
from mastering.models import EntityType
from steward.errors import ServiceError


@admin.register(CandidatePair)
class CandidatePairAdmin(admin.ModelAdmin):
    list_display = ["id", "entity_type", "left", "right", "score", "origin", "status", "claimed_by", "claimed_until"]
    list_filter = ["entity_type", "status", "origin"]
    list_select_related = ["entity_type", "left__source", "right__source", "claimed_by"]
    raw_id_fields = ["left", "right", "model", "claimed_by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the queue and training own pairs; labels hang on them


class LabelImportForm(forms.Form):
    entity_type = forms.ModelChoiceField(queryset=EntityType.objects.all())
    file = forms.FileField(help_text="CSV with columns left_source, left_key, right_source, right_key, answer (match/distinct/unsure).")


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    list_display = ["id", "pair", "answer", "curator", "origin", "created_at", "revoked_at"]
    list_filter = ["answer", "origin", "pair__entity_type", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["curator__username"]
    list_select_related = ["curator", "pair"]
    actions = ["revoke_selected"]
    change_list_template = "admin/curation/label/change_list.html"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a label is kept for the record: revoke it instead

    @admin.action(description="Revoke the selected labels (kept, no longer trained on)")
    def revoke_selected(self, request, queryset) -> None:
        revoked = 0
        for label in queryset.filter(revoked_at__isnull=True):
            try:
                services.revoke_label(label=label, by=request.user, reason="revoked in admin")
            except ServiceError as refusal:
                messages.warning(request, refusal.message)
            else:
                revoked += 1
        messages.success(request, f"{revoked} labels revoked.")

    def get_urls(self):
        return [path("import/", self.admin_site.admin_view(self.import_view), name="curation_label_import")] + super().get_urls()

    def import_view(self, request):
        """Import existing labels from CSV; all rows or none."""
        form = LabelImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            from curation.api.views import csv_label_rows

            try:
                rows = csv_label_rows(form.cleaned_data["file"])
                result = services.import_labels(entity_type=form.cleaned_data["entity_type"], rows=rows, curator=request.user)
            except ServiceError as exc:
                messages.error(request, exc.message)
                for problem in exc.problems[:20]:
                    messages.error(request, f"row {problem['row']}: {problem['reason']}")
            else:
                messages.success(request, f"Imported {result['imported']} labels.")
                return redirect(reverse("admin:curation_label_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form, "title": "Import labels"}
        return render(request, "admin/curation/label/import.html", context)

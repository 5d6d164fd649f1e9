from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse

from mastering import services
from mastering.forms import missing_values_field
from mastering.ingest.parsing import TableError, write_upload
from mastering.models import (
    Attribute,
    AttributeMapping,
    EntityType,
    IngestBatch,
    Job,
    MatchModel,
    Source,
    SourceField,
    SourceRecord,
    SourceRecordVersion,
)
from steward.admin import ServiceModelAdmin, inline_rows
from steward.errors import ServiceError

SOURCE_FIELD_KEYS = ("name", "type", "required", "max_length", "description")
ATTRIBUTE_KEYS = ("name", "comparator", "has_missing", "survivorship")


def _adopt(instance, saved) -> None:
    """Give the admin's form instance the row the service saved, for the admin log and the redirect."""
    instance.pk = saved.pk
    instance._state.adding = False


class SourceFieldInline(admin.TabularInline):
    model = SourceField
    extra = 1
    fields = ["position", "name", "type", "required", "max_length", "description"]


class SourceAdminForm(forms.ModelForm):
    missing_values = missing_values_field()

    class Meta:
        model = Source
        fields = "__all__"

    def clean_missing_values(self) -> list[str]:
        # The same rule the source services apply to the API's list.
        try:
            return services.clean_missing_values(self.cleaned_data["missing_values"])
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None


class SampleForm(forms.Form):
    sample = forms.FileField(help_text="A CSV (or JSON) sample: its header becomes the field list, with types inferred from the values.")


class NewSourceSampleForm(SampleForm):
    """A new source's name with the sample its fields are proposed from, before anything is saved."""

    name = forms.CharField(max_length=100)
    slug = forms.SlugField(max_length=50, required=False, help_text="Left empty, it is made from the name.")
    field_order = ["name", "slug", "sample"]


@admin.register(Source)
class SourceAdmin(ServiceModelAdmin):
    form = SourceAdminForm
    list_display = ["name", "slug", "key_field", "ingest_mode", "priority", "active", "owner"]
    list_filter = ["active", "ingest_mode"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["owner"]
    inlines = [SourceFieldInline]
    change_form_template = "admin/mastering/source/change_form.html"

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved with its fields in save_related, by the source services

    def save_related(self, request, form, formsets, change) -> None:
        (fields_formset,) = formsets
        fields = inline_rows(fields_formset, SOURCE_FIELD_KEYS)
        if change:
            changes = {name: form.cleaned_data[name] for name in form.changed_data}
            source = services.update_source(source=Source.objects.get(pk=form.instance.pk), actor=request.user,
                                            fields=fields if fields_formset.has_changed() else None, **changes)
        else:
            # A source may start from its key alone; "Propose fields from a sample" then fills in the rest.
            fields = fields or [{"name": form.cleaned_data["key_field"], "required": True}]
            source = services.create_source(actor=request.user, fields=fields, **form.cleaned_data)
        _adopt(form.instance, source)

    def delete_model(self, request, obj) -> None:
        services.delete_source(source=obj, actor=request.user)

    def get_urls(self):
        return [
            path("<int:source_id>/propose-fields/", self.admin_site.admin_view(self.propose_fields_view), name="mastering_source_propose_fields"),
            path("propose-new/", self.admin_site.admin_view(self.propose_new_source_view), name="mastering_source_propose_new"),
        ] + super().get_urls()

    def _proposals(self, request, form, *, missing_values=None) -> list[dict] | None:
        """Fields proposed from the form's uploaded sample (the sample is read, then removed)."""
        path_ = services.new_upload_path()
        try:
            with form.cleaned_data["sample"].open("rb") as stream:
                write_upload(stream, path_, max_bytes=50 * 1024 * 1024)
            return services.propose_fields(path=path_, file_name=form.cleaned_data["sample"].name, missing_values=missing_values)
        except (TableError, ServiceError) as exc:
            messages.error(request, exc.message)
            return None
        finally:
            Path(path_).unlink(missing_ok=True)

    def propose_new_source_view(self, request):
        """Add a source from a sample: its fields are proposed before it is saved, then reviewed and saved with it."""
        if not self.has_add_permission(request):
            return redirect("admin:index")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": None,
                   "title": "Add a source from a sample", "new_source": True}
        if request.method == "POST" and "confirm" in request.POST:
            names = request.POST.getlist("name")
            fields = [{"name": name, "type": request.POST.get(f"type-{i}", "string"), "required": f"required-{i}" in request.POST}
                      for i, name in enumerate(names) if f"keep-{i}" in request.POST]
            try:
                source = services.create_source(actor=request.user, name=request.POST.get("source_name", ""),
                                                slug=request.POST.get("source_slug", ""), key_field=request.POST.get("key_field", ""),
                                                fields=fields)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"Source {source.name} added with {len(fields)} fields.")
                return redirect(reverse("admin:mastering_source_change", args=[source.pk]))
        form = NewSourceSampleForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and "confirm" not in request.POST and form.is_valid():
            proposals = self._proposals(request, form)
            if proposals:
                context.update(proposals=proposals, types=SourceField.Type.choices, source_name=form.cleaned_data["name"],
                               source_slug=form.cleaned_data["slug"],
                               key_guess=next((p["name"] for p in proposals if p["name"].lower() in ("id", "key")), proposals[0]["name"]))
        context["form"] = form
        return render(request, "admin/mastering/source/propose_fields.html", context)

    def propose_fields_view(self, request, source_id: int):
        """Propose the field list from an uploaded sample; the admin reviews it before it replaces the fields."""
        source = get_object_or_404(Source, pk=source_id)
        if not self.has_change_permission(request, source):
            return redirect("admin:index")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": source, "title": f"Propose fields for {source.name}"}
        if request.method == "POST" and "confirm" in request.POST:
            names = request.POST.getlist("name")
            fields = [
                {"name": name, "type": request.POST.get(f"type-{i}", "string"), "required": f"required-{i}" in request.POST}
                for i, name in enumerate(names) if f"keep-{i}" in request.POST
            ]
            key_field = request.POST.get("key_field") or source.key_field
            try:
                services.update_source(source=source, actor=request.user, fields=fields, key_field=key_field)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"{len(fields)} fields saved for {source.name}.")
                return redirect(reverse("admin:mastering_source_change", args=[source.pk]))
        form = SampleForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and "confirm" not in request.POST and form.is_valid():
            path_ = services.new_upload_path()
            try:
                with form.cleaned_data["sample"].open("rb") as stream:
                    write_upload(stream, path_, max_bytes=50 * 1024 * 1024)
                context["proposals"] = services.propose_fields(path=path_, file_name=form.cleaned_data["sample"].name,
                                                               missing_values=source.missing_values)
                context["types"] = SourceField.Type.choices
            except (TableError, ServiceError) as exc:
                messages.error(request, exc.message)
            finally:
                Path(path_).unlink(missing_ok=True)
        context["form"] = form
        return render(request, "admin/mastering/source/propose_fields.html", context)


@admin.register(IngestBatch)
class IngestBatchAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "status", "channel", "file_name", "received", "created", "updated", "unchanged", "rejected", "retired", "user", "created_at"]
    list_filter = ["status", "channel", "mode", "source"]
    search_fields = ["file_name", "checksum"]
    list_select_related = ["source", "user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # records and lineage point at batches


class VersionInline(admin.TabularInline):
    model = SourceRecordVersion
    extra = 0
    can_delete = False
    readonly_fields = ["version", "data", "retired", "batch", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SourceRecord)
class SourceRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "source", "version", "retired", "updated_at"]
    list_filter = ["source", "retired"]
    search_fields = ["key"]
    list_select_related = ["source"]
    inlines = [VersionInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # records change by ingest only; a snapshot batch retires those no longer sent


class AttributeInline(admin.TabularInline):
    model = Attribute
    extra = 1
    fields = ["position", "name", "comparator", "has_missing", "survivorship"]


class MapSourceForm(forms.Form):
    source = forms.ModelChoiceField(queryset=Source.objects.all(), help_text="The source whose fields to map.")


@admin.register(EntityType)
class EntityTypeAdmin(ServiceModelAdmin):
    list_display = ["name", "slug", "match_threshold", "retrain_every", "overlap", "blind", "one_per_source"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [AttributeInline]
    change_form_template = "admin/mastering/entitytype/change_form.html"

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved with its attributes in save_related, by the entity type services

    def save_related(self, request, form, formsets, change) -> None:
        (attributes_formset,) = formsets
        attributes = inline_rows(attributes_formset, ATTRIBUTE_KEYS, with_ids=True)
        if change:
            # The stored row, not the form's instance: the service compares the old threshold and rules with the new.
            entity_type = services.update_entity_type(
                entity_type=EntityType.objects.get(pk=form.instance.pk), actor=request.user,
                attributes=attributes if attributes_formset.has_changed() else None,
                **{name: form.cleaned_data[name] for name in form.changed_data})
        else:
            entity_type = services.create_entity_type(actor=request.user, attributes=attributes, **form.cleaned_data)
        _adopt(form.instance, entity_type)

    def delete_model(self, request, obj) -> None:
        services.delete_entity_type(entity_type=obj, actor=request.user)

    def get_urls(self):
        return [
            path("<int:entity_type_id>/map-source/", self.admin_site.admin_view(self.map_source_view), name="mastering_entitytype_map_source"),
        ] + super().get_urls()

    def map_source_view(self, request, entity_type_id: int):
        """Propose mappings for a source by name and shared values; the admin accepts or changes them."""
        entity_type = get_object_or_404(EntityType, pk=entity_type_id)
        if not self.has_change_permission(request, entity_type):
            return redirect("admin:index")
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": entity_type,
                   "title": f"Map a source into {entity_type.name}"}
        if request.method == "POST" and "confirm" in request.POST:
            source = get_object_or_404(Source, pk=request.POST.get("source_id"))
            mappings = [
                {"field": field, "attribute": request.POST[f"attribute-{i}"],
                 "transforms": request.POST.getlist(f"transforms-{i}")}
                for i, field in enumerate(request.POST.getlist("field")) if request.POST.get(f"attribute-{i}")
            ]
            try:
                services.set_mappings(entity_type=entity_type, source=source, mappings=mappings, actor=request.user)
            except ServiceError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(request, f"{len(mappings)} fields of {source.name} now feed {entity_type.name}.")
                return redirect(reverse("admin:mastering_entitytype_change", args=[entity_type.pk]))
        form = MapSourceForm(request.GET or None)
        if form.is_valid():
            source = form.cleaned_data["source"]
            proposals = {p["field"]: p for p in services.propose_mappings(entity_type=entity_type, source=source)}
            current = {m.field.name: m for m in AttributeMapping.objects.filter(attribute__entity_type=entity_type, source=source).select_related("field", "attribute")}
            context["rows"] = [
                {"field": f.name, "attribute": current[f.name].attribute.name if f.name in current else proposals.get(f.name, {}).get("attribute", ""),
                 "reason": "current mapping" if f.name in current else proposals.get(f.name, {}).get("reason", ""),
                 "transforms": current[f.name].transforms if f.name in current else proposals.get(f.name, {}).get("transforms", [])}
                for f in source.fields.all()
            ]
            context["source"] = source
            context["attributes"] = entity_type.attributes.all()
            context["all_transforms"] = AttributeMapping.Transform.choices
        context["form"] = form
        return render(request, "admin/mastering/entitytype/map_source.html", context)


class AttributeMappingForm(forms.ModelForm):
    class Meta:
        model = AttributeMapping
        fields = "__all__"

    def clean(self) -> dict:
        cleaned = super().clean()
        field, source = cleaned.get("field"), cleaned.get("source")
        if field is not None and source is not None and field.source_id != source.pk:
            self.add_error("field", f"{field.name} is a field of {field.source}, not of {source}.")
        return cleaned


@admin.register(AttributeMapping)
class AttributeMappingAdmin(ServiceModelAdmin):
    form = AttributeMappingForm
    list_display = ["attribute", "source", "field", "transforms", "position"]
    list_filter = ["attribute__entity_type", "source"]
    list_select_related = ["attribute__entity_type", "source", "field"]
    autocomplete_fields = ["source"]

    def save_model(self, request, obj, form, change) -> None:
        replacing = AttributeMapping.objects.select_related("attribute__entity_type", "source").get(pk=obj.pk) if change else None
        _adopt(obj, services.map_field(attribute=obj.attribute, field=obj.field, transforms=obj.transforms or [],
                                       position=obj.position, actor=request.user, replacing=replacing))

    def delete_model(self, request, obj) -> None:
        services.unmap_fields(mappings=[obj], actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        services.unmap_fields(mappings=list(queryset.select_related("attribute")), actor=request.user)


@admin.register(MatchModel)
class MatchModelAdmin(admin.ModelAdmin):
    list_display = ["entity_type", "version", "active", "label_count", "precision", "recall", "created_at"]
    list_filter = ["entity_type", "active"]
    exclude = ["learned_settings"]
    readonly_fields = ["entity_type", "version", "predicates", "label_ids", "label_count", "match_count", "distinct_count",
                       "precision", "recall", "f1", "metrics", "active", "job"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # jobs, labels and lineage name the model version they used


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "entity_type", "kind", "status", "stage", "progress", "started_by", "created_at", "finished_at"]
    list_filter = ["kind", "status", "entity_type"]
    list_select_related = ["entity_type", "started_by"]
    actions = ["cancel_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a job is the record of a run: entities, models and lineage point at it

    @admin.action(description="Cancel the selected jobs")
    def cancel_selected(self, request, queryset) -> None:
        for job in queryset.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]):
            try:
                job = services.cancel_job(job=job, user=request.user)
            except ServiceError as refusal:
                messages.warning(request, refusal.message)
            else:
                messages.success(request, f"Job #{job.pk} cancelled." if job.status == Job.Status.CANCELLED
                                 else f"Job #{job.pk} stops at its next progress report.")

from django.contrib import admin

from lineage.models import Activity, ActivityObject, RunEvent


class ActivityObjectInline(admin.TabularInline):
    model = ActivityObject
    extra = 0
    can_delete = False
    readonly_fields = ["role", "content_type", "object_id", "label"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "summary", "user", "started_at"]
    list_filter = ["kind", "started_at"]
    search_fields = ["summary", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["kind", "summary", "user", "actor_type", "actor_id", "parameters", "started_at", "ended_at"]
    inlines = [ActivityObjectInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the audit trail: what happened stays written


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ["event_time", "event_type", "job_name", "run_id", "delivery", "attempts"]
    list_filter = ["event_type", "delivery", "job_namespace"]
    search_fields = ["job_name", "run_id"]
    readonly_fields = ["run_id", "event_type", "job_namespace", "job_name", "event_time", "document", "activity",
                       "delivery", "attempts", "last_error", "sent_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # what was sent stays written, like the activities

"""Admin: issue kinds' defaults, webhook subscriptions and allowed hosts (saved through services), deliveries (read-only)."""

from django import forms
from django.contrib import admin, messages

from feedback import services
from feedback.models import IssueKindDefault, WebhookDelivery, WebhookHost, WebhookSubscription
from steward.admin import ServiceModelAdmin
from steward.errors import ServiceError


def _adopt(instance, saved) -> None:
    """Give the admin's form instance the row the service saved, for the admin log and the redirect."""
    instance.pk = saved.pk
    instance._state.adding = False


@admin.register(IssueKindDefault)
class IssueKindDefaultAdmin(ServiceModelAdmin):
    list_display = ["kind", "priority", "assignee"]
    list_select_related = ["assignee"]
    autocomplete_fields = ["assignee"]

    def save_model(self, request, obj, form, change) -> None:
        if change and "kind" in form.changed_data:
            old = IssueKindDefault.objects.get(pk=obj.pk)
            services.remove_kind_default(actor=request.user, default=old)
        _adopt(obj, services.set_kind_default(actor=request.user, kind=obj.kind, priority=obj.priority, assignee=obj.assignee))

    def delete_model(self, request, obj) -> None:
        services.remove_kind_default(actor=request.user, default=obj)


@admin.register(WebhookHost)
class WebhookHostAdmin(ServiceModelAdmin):
    list_display = ["host", "allow_private", "note", "updated_at"]
    search_fields = ["host", "note"]

    def save_model(self, request, obj, form, change) -> None:
        instance = WebhookHost.objects.get(pk=obj.pk) if change else None
        _adopt(obj, services.save_webhook_host(actor=request.user, host=obj.host, allow_private=obj.allow_private,
                                               note=obj.note, instance=instance))

    def delete_model(self, request, obj) -> None:
        services.delete_webhook_host(actor=request.user, host=obj)


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", help_text="http(s) URL on an allowed host.")
    events = forms.MultipleChoiceField(choices=WebhookSubscription.Event.choices, widget=forms.CheckboxSelectMultiple)
    secret = forms.CharField(max_length=200, min_length=16, widget=forms.PasswordInput(render_value=True),
                             help_text=WebhookSubscription._meta.get_field("secret").help_text)

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "events", "active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ServiceModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["name", "url", "events", "active", "updated_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]

    def save_model(self, request, obj, form, change) -> None:
        instance = WebhookSubscription.objects.get(pk=obj.pk) if change else None
        data = form.cleaned_data
        _adopt(obj, services.save_webhook_subscription(actor=request.user, name=data["name"], url=data["url"],
                                                       secret=data["secret"], events=data["events"], active=data["active"],
                                                       instance=instance))

    def delete_model(self, request, obj) -> None:
        services.delete_webhook_subscription(actor=request.user, subscription=obj)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "subscription", "event_kind", "status", "attempts", "response_code", "last_error", "created_at",
                    "delivered_at"]
    list_filter = ["status", "event_kind", "subscription"]
    list_select_related = ["subscription"]
    readonly_fields = ["subscription", "event", "event_kind", "payload", "status", "attempts", "response_code", "last_error",
                       "created_at", "delivered_at"]
    actions = ["send_again"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Send the selected failed deliveries again")
    def send_again(self, request, queryset) -> None:
        sent = 0
        for delivery in queryset.select_related("subscription"):
            try:
                services.redeliver_webhook(delivery=delivery, actor=request.user)
                sent += 1
            except ServiceError as exc:
                self.message_user(request, exc.message, messages.WARNING)
        if sent:
            self.message_user(request, f"{sent} deliver{'y' if sent == 1 else 'ies'} queued again.")

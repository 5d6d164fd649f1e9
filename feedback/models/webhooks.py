from django.db import models

from steward.models import TimeStampedModel


class WebhookHost(TimeStampedModel):
    """A host that webhooks may be sent to; nothing else is ever called."""

    host = models.CharField(max_length=253, unique=True, help_text="A host name or IP address, lowercase, without port.")
    allow_private = models.BooleanField(
        default=False, help_text="Allow it even though it resolves to a private, loopback or link-local address "
                                 "(for a receiver on the same network; off unless you mean it).")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["host"]
        verbose_name = "webhook allowed host"

    def __str__(self) -> str:
        return self.host


class WebhookSubscription(TimeStampedModel):
    """Issue events POSTed as signed JSON to one URL."""

    class Event(models.TextChoices):
        FILED = "filed", "Issue filed"
        STATUS = "status", "Status changed"
        RESOLVED = "resolved", "Issue resolved"
        COMMENTED = "commented", "Comment added"

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500, help_text="http(s) URL on an allowed host.")
    secret = models.CharField(max_length=200, help_text="Signs each delivery: X-Steward-Signature: sha256=HMAC-SHA256(secret, body).")
    events = models.JSONField(default=list, help_text="Which issue events to send.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event sent (or being sent) to one subscription: what, how often tried, and how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("feedback.IssueEvent", null=True, on_delete=models.SET_NULL, related_name="+")
    event_kind = models.CharField(max_length=20)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event_kind} to {self.subscription} ({self.status})"

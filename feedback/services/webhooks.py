"""Outgoing webhooks: admin-managed subscriptions to issue events, sent signed, only to hosts an admin allowed.

A URL is checked when it is saved and again before every send, because a host's addresses can change: a name that
resolves to a private, loopback or link-local address is refused unless its allowed-host entry says otherwise.
The send connects to the very address that was checked, so a second lookup cannot redirect it (DNS rebinding).
"""

import hashlib
import hmac
import ipaddress
import json
import re
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from feedback import tasks
from feedback.models import DataIssue, IssueEvent, WebhookDelivery, WebhookHost, WebhookSubscription
from lineage.models import Activity
from lineage.services import record_activity
from steward.errors import InvalidInput

SIGNATURE_HEADER = "X-Steward-Signature"
MAX_ATTEMPTS = 5
TIMEOUT_SECONDS = 10
MAX_ERROR = 500
# Event kinds a subscription may ask for: the timeline's kinds that mean something to a receiver.
EVENT_KINDS = {IssueEvent.Kind.FILED: WebhookSubscription.Event.FILED, IssueEvent.Kind.STATUS: WebhookSubscription.Event.STATUS,
               IssueEvent.Kind.RESOLVED: WebhookSubscription.Event.RESOLVED,
               IssueEvent.Kind.COMMENTED: WebhookSubscription.Event.COMMENTED}
HOST_NAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


class DeliveryFailed(Exception):
    """A send that may succeed if tried again later (network error, 5xx, 408, 429)."""


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body: sha256=<hex HMAC-SHA256 with the subscription's secret>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def check_url(url: str) -> WebhookHost:
    """The allowed-host entry the URL may be sent to, or an InvalidInput saying why not (resolving the host)."""
    return _check(url)[0]


def _check(url: str) -> tuple[WebhookHost, str]:
    """The URL's allowed-host entry and the address it was checked at: the send connects there and nowhere else."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"Webhook URL {url!r} is not an http or https URL with a host.")
    if parts.username or parts.password:
        raise InvalidInput("A webhook URL must not carry a user name or password; sign with the secret instead.")
    host = parts.hostname.lower().rstrip(".")
    allowed = WebhookHost.objects.filter(host=host).first()
    if allowed is None:
        raise InvalidInput(f"Host {host!r} is not on the webhook allowed-hosts list; an admin adds it there first.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)))
    except (OSError, ValueError, UnicodeError) as exc:
        raise InvalidInput(f"Host {host!r} cannot be resolved ({exc}).") from None
    private = sorted(a for a in addresses if _blocked(a))
    if private and not allowed.allow_private:
        raise InvalidInput(f"Host {host!r} resolves to a private, loopback or link-local address ({', '.join(private)}); "
                           "webhooks are not sent there unless its allowed-host entry allows private addresses.")
    if not addresses:
        raise InvalidInput(f"Host {host!r} resolves to no address.")
    return allowed, addresses[0]


class _PinnedAddress(HTTPAdapter):
    """Connects to the address the check approved, while TLS still verifies the certificate for the URL's host name.

    Without it, the HTTP client would look the name up again: a host could answer the check with a public address
    and the connection with a private one (DNS rebinding).
    """

    def __init__(self, host: str):
        self.host = host
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        kwargs.update(server_hostname=self.host, assert_hostname=self.host)  # dropped by urllib3 for plain http
        super().init_poolmanager(*args, **kwargs)


def _post_pinned(url: str, address: str, body: bytes, headers: dict) -> requests.Response:
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    pinned = parts._replace(netloc=literal + (f":{parts.port}" if parts.port else "")).geturl()
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: the checked address is the one connected to
        session.mount(f"{parts.scheme}://", _PinnedAddress(parts.hostname))
        # No redirects: a redirect could point anywhere, including a private address.
        return session.post(pinned, data=body, headers={**headers, "Host": parts.netloc.rsplit("@", 1)[-1]},
                            timeout=TIMEOUT_SECONDS, allow_redirects=False)


def _clean_host(host: str) -> str:
    host = (host or "").strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if not HOST_NAME.match(host):
        raise InvalidInput(f"{host!r} is not a host name or IP address (no scheme, port or path).")
    return host


def _events(events: list[str]) -> list[str]:
    chosen = sorted(set(events or []))
    unknown = [e for e in chosen if e not in WebhookSubscription.Event.values]
    if unknown or not chosen:
        raise InvalidInput(f"Choose events among: {', '.join(WebhookSubscription.Event.values)}"
                           f"{' (unknown: ' + ', '.join(map(str, unknown)) + ')' if unknown else ''}.")
    return chosen


@transaction.atomic
def save_webhook_host(*, actor: AbstractBaseUser, host: str, allow_private: bool = False, note: str = "",
                      instance: WebhookHost | None = None) -> WebhookHost:
    """Allow (or change) a host webhooks may be sent to."""
    cleaned = _clean_host(host)
    if WebhookHost.objects.filter(host=cleaned).exclude(pk=instance.pk if instance else None).exists():
        raise InvalidInput(f"{cleaned} is already allowed.")
    row = instance or WebhookHost()
    row.host, row.allow_private, row.note = cleaned, allow_private, (note or "")[:200]
    row.save()
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, outputs=[row],
                    summary=f"Webhook host {cleaned} allowed{' (private addresses too)' if allow_private else ''}",
                    parameters={"host": cleaned, "allow_private": allow_private})
    return row


@transaction.atomic
def delete_webhook_host(*, actor: AbstractBaseUser, host: WebhookHost) -> None:
    """Stop allowing a host; subscriptions to it fail their next delivery with that reason."""
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Webhook host {host.host} no longer allowed",
                    parameters={"host": host.host})
    host.delete()


@transaction.atomic
def save_webhook_subscription(*, actor: AbstractBaseUser, name: str, url: str, secret: str, events: list[str],
                              active: bool = True, instance: WebhookSubscription | None = None) -> WebhookSubscription:
    """Create or change a subscription; its URL must be on an allowed host that resolves to a public address."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the subscription a name.")
    if len(secret or "") < 16:
        raise InvalidInput("Use a secret of at least 16 characters: the receiver checks each signature with it.")
    check_url(url)
    row = instance or WebhookSubscription()
    row.name, row.url, row.secret, row.events, row.active = name, url.strip(), secret, _events(events), active
    row.save()
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, outputs=[row], summary=f"Webhook {name} saved",
                    parameters={"url": row.url, "events": row.events, "active": active})
    return row


@transaction.atomic
def delete_webhook_subscription(*, actor: AbstractBaseUser, subscription: WebhookSubscription) -> None:
    """Remove a subscription and its delivery log."""
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Webhook {subscription.name} removed",
                    parameters={"url": subscription.url})
    subscription.delete()


def payload_for(event: IssueEvent) -> dict:
    """What a receiver gets: the event and the issue as it stands after it."""
    issue: DataIssue = event.issue
    return {
        "event": EVENT_KINDS[event.kind], "event_id": event.pk, "at": event.created_at.isoformat(),
        "actor": event.actor.username if event.actor else None, "changes": event.changes,
        "comment": event.comment.body if event.comment_id else None,
        "issue": {"id": issue.pk, "title": issue.title, "kind": issue.kind, "status": issue.status,
                  "priority": issue.priority, "resolution": issue.resolution, "target": issue.target_label,
                  "reporter": issue.reporter.username, "assignee": issue.assignee.username if issue.assignee else None,
                  "url": f"{settings.STEWARD_BASE_URL}{issue.get_absolute_url()}", "version": issue.version},
    }


def queue_webhooks(event: IssueEvent) -> list[WebhookDelivery]:
    """A delivery per active subscription that asked for this kind of event, sent once the change is committed."""
    kind = EVENT_KINDS.get(event.kind)
    if kind is None:
        return []
    subscriptions = [s for s in WebhookSubscription.objects.filter(active=True) if kind in s.events]
    if not subscriptions:
        return []
    payload = payload_for(event)
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(subscription=s, event=event, event_kind=kind, payload=payload) for s in subscriptions])
    for delivery in deliveries:
        # After the commit: the worker reads the delivery row, and nothing is sent for a change that rolled back.
        transaction.on_commit(lambda pk=delivery.pk: tasks.deliver_webhook.delay(pk))
    return deliveries


def deliver_webhook(*, delivery_id: int, last_try: bool) -> WebhookDelivery:
    """POST one delivery; on a transient failure raise DeliveryFailed (the task retries) unless this is the last try."""
    delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
    if delivery.status != WebhookDelivery.Status.PENDING:
        return delivery  # a redelivered message: already settled
    subscription = delivery.subscription
    body = json.dumps({**delivery.payload, "delivery": delivery.pk}, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "Steward-Webhook/1", SIGNATURE_HEADER: sign(subscription.secret, body),
               "X-Steward-Event": delivery.event_kind, "X-Steward-Delivery": str(delivery.pk)}
    attempts = delivery.attempts + 1
    try:
        _, address = _check(subscription.url)  # again: the host's entry or its addresses may have changed since it was saved
    except InvalidInput as refused:
        return _settle(delivery, attempts, WebhookDelivery.Status.FAILED, error=refused.message)
    try:
        response = _post_pinned(subscription.url, address, body, headers)
    except requests.RequestException as exc:
        error, code, retry = f"{type(exc).__name__}: {exc}", None, True
    else:
        code = response.status_code
        if 200 <= code < 300:
            return _settle(delivery, attempts, WebhookDelivery.Status.SUCCEEDED, code=code)
        error, retry = f"HTTP {code}: {response.text[:200]}", code >= 500 or code in (408, 429)
    if retry and not last_try:
        _settle(delivery, attempts, WebhookDelivery.Status.PENDING, code=code, error=error)
        raise DeliveryFailed(error)
    return _settle(delivery, attempts, WebhookDelivery.Status.FAILED, code=code, error=error)


def _settle(delivery: WebhookDelivery, attempts: int, status: str, *, code: int | None = None, error: str = "") -> WebhookDelivery:
    delivery.attempts, delivery.status, delivery.response_code, delivery.last_error = attempts, status, code, error[:MAX_ERROR]
    delivery.delivered_at = timezone.now() if status == WebhookDelivery.Status.SUCCEEDED else None
    delivery.save(update_fields=["attempts", "status", "response_code", "last_error", "delivered_at"])
    return delivery


@transaction.atomic
def redeliver_webhook(*, delivery: WebhookDelivery, actor: AbstractBaseUser) -> WebhookDelivery:
    """Send a failed delivery again (an admin action), with a fresh set of attempts."""
    if delivery.status != WebhookDelivery.Status.FAILED:
        raise InvalidInput(f"Delivery {delivery.pk} is {delivery.get_status_display().lower()}; only failed ones are sent again.")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.PENDING, attempts=0, last_error="")
    record_activity(kind=Activity.Kind.CONFIGURE, actor=actor, summary=f"Webhook delivery {delivery.pk} sent again",
                    inputs=[delivery.subscription])
    transaction.on_commit(lambda: tasks.deliver_webhook.delay(delivery.pk))
    delivery.refresh_from_db()
    return delivery

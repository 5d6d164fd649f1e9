"""Webhooks: only to allowed hosts with public addresses (resolved), signed, sent after the commit, retried, logged."""

import hashlib
import hmac
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from feedback import services
from feedback.models import WebhookDelivery, WebhookHost, WebhookSubscription
from feedback.services import webhooks
from lineage.models import Activity
from steward.errors import InvalidInput

pytestmark = pytest.mark.django_db
SECRET = "s3cret-s3cret-s3cret"


class Receiver(BaseHTTPRequestHandler):
    """Records each POST; answers with the status the test sets."""

    answers: list[int] = []
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):  # noqa: N802 (the http.server API)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        code = type(self).answers.pop(0) if type(self).answers else 204
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.answers, Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, Receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_subscription(receiver, admin_user):
    server, _ = receiver
    services.save_webhook_host(actor=admin_user, host="127.0.0.1", allow_private=True, note="test receiver")
    return services.save_webhook_subscription(actor=admin_user, name="local", url=f"http://127.0.0.1:{server.server_port}/hook",
                                              secret=SECRET, events=["filed", "commented"])


def _file(people, user, capture):
    with capture(execute=True):
        return services.file_issue(reporter=user, title="Wrong city", kind="wrong_value", target={"source": "person-src", "key": "p1"})


def test_a_filed_issue_is_posted_signed_to_the_local_receiver(people, business_user, local_subscription, receiver,
                                                              django_capture_on_commit_callbacks):
    _, handler = receiver
    issue = _file(people, business_user, django_capture_on_commit_callbacks)
    assert len(handler.received) == 1
    headers, body = handler.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-steward-signature"], expected)
    payload = json.loads(body)
    assert (payload["event"], payload["issue"]["id"], payload["issue"]["title"]) == ("filed", issue.pk, "Wrong city")
    assert payload["actor"] == business_user.username and headers["x-steward-event"] == "filed"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 1, 204)
    assert payload["delivery"] == delivery.pk and delivery.delivered_at is not None


def test_only_subscribed_events_of_active_subscriptions_are_sent(people, business_user, steward, local_subscription, receiver,
                                                                django_capture_on_commit_callbacks):
    _, handler = receiver
    issue = _file(people, business_user, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.transition_issue(issue=issue, user=steward, status="acknowledged", version=issue.version)  # not subscribed
        services.comment_on_issue(issue=issue, author=steward, body="Looking")
    assert [json.loads(body)["event"] for _, body in handler.received] == ["filed", "commented"]
    WebhookSubscription.objects.update(active=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.comment_on_issue(issue=issue, author=steward, body="Again")
    assert len(handler.received) == 2


def test_nothing_is_sent_for_a_change_that_rolled_back(people, business_user, local_subscription, receiver,
                                                       django_capture_on_commit_callbacks):
    _, handler = receiver
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(InvalidInput):
            services.file_issue(reporter=business_user, title="x", kind="wrong_value", target={"source": "person-src", "key": "nope"})
    assert callbacks == [] and WebhookDelivery.objects.count() == 0 and handler.received == []


def test_a_failing_receiver_is_retried_then_the_delivery_is_marked_failed(people, business_user, local_subscription, receiver,
                                                                          django_capture_on_commit_callbacks):
    _, handler = receiver
    handler.answers = [503] * 10
    _file(people, business_user, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("failed", webhooks.MAX_ATTEMPTS, 503)
    assert delivery.last_error.startswith("HTTP 503") and len(handler.received) == webhooks.MAX_ATTEMPTS


def test_a_receiver_that_recovers_gets_the_delivery_on_a_retry(people, business_user, local_subscription, receiver,
                                                               django_capture_on_commit_callbacks):
    _, handler = receiver
    handler.answers = [500, 502]
    _file(people, business_user, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    bodies = {body for _, body in handler.received}
    assert len(bodies) == 1  # the same signed body each time


def test_a_client_error_is_not_retried(people, business_user, local_subscription, receiver, django_capture_on_commit_callbacks):
    _, handler = receiver
    handler.answers = [410]
    _file(people, business_user, django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.values_list("status", "attempts", "response_code").get() == ("failed", 1, 410)


def test_a_host_removed_from_the_allowed_list_gets_nothing(people, business_user, admin_user, local_subscription, receiver,
                                                           django_capture_on_commit_callbacks):
    _, handler = receiver
    services.delete_webhook_host(actor=admin_user, host=WebhookHost.objects.get())
    _file(people, business_user, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and "not on the webhook allowed-hosts list" in delivery.last_error
    assert handler.received == []


def test_backoff_grows():
    from feedback.tasks import backoff

    assert [backoff(n) for n in range(4)] == [30, 120, 480, 1920]


@pytest.mark.parametrize("url,message", [
    ("ftp://hooks.example.com/x", "not an http or https URL"),
    ("http://user:pw@hooks.example.com/x", "must not carry a user name"),
    ("https://other.example.com/x", "not on the webhook allowed-hosts list"),
    ("http://10.1.2.3/x", "private, loopback or link-local"),
    ("http://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
    ("http://[::1]:8000/x", "private, loopback or link-local"),
    ("http://localhost:8000/x", "private, loopback or link-local"),
    ("https://internal.example.com/x", "private, loopback or link-local"),
])
def test_a_url_that_is_not_allowed_or_private_is_refused_with_nothing_written(admin_user, monkeypatch, url, message):
    for host in ("hooks.example.com", "10.1.2.3", "169.254.169.254", "::1", "localhost", "internal.example.com"):
        WebhookHost.objects.create(host=host)
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):  # no DNS here: internal.example.com stands for a name that resolves inward
        if host == "internal.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", 443))]
        if host == "hooks.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    activities = Activity.objects.count()
    with pytest.raises(InvalidInput, match=message):
        services.save_webhook_subscription(actor=admin_user, name="x", url=url, secret=SECRET, events=["filed"])
    assert WebhookSubscription.objects.count() == 0 and Activity.objects.count() == activities


def test_a_public_allowed_host_is_accepted(admin_user, monkeypatch):
    WebhookHost.objects.create(host="hooks.example.com")
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443))])
    sub = services.save_webhook_subscription(actor=admin_user, name="ok", url="https://hooks.example.com/in", secret=SECRET,
                                             events=["resolved", "filed", "filed"])
    assert sub.events == ["filed", "resolved"]
    assert Activity.objects.filter(kind=Activity.Kind.CONFIGURE, summary="Webhook ok saved").exists()


@pytest.mark.parametrize("changes,message", [
    ({"secret": "short"}, "at least 16 characters"),
    ({"events": []}, "Choose events"),
    ({"events": ["deleted"]}, "unknown: deleted"),
    ({"name": " "}, "Give the subscription a name"),
])
def test_bad_subscription_fields_are_refused(admin_user, changes, message):
    WebhookHost.objects.create(host="127.0.0.1", allow_private=True)
    fields = {"name": "x", "url": "http://127.0.0.1:9/x", "secret": SECRET, "events": ["filed"], **changes}
    with pytest.raises(InvalidInput, match=message):
        services.save_webhook_subscription(actor=admin_user, **fields)
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize("host", ["http://x.example.com", "x.example.com:80", "x.example.com/p", "bad host", ""])
def test_an_allowed_host_must_be_a_bare_host(admin_user, host):
    with pytest.raises(InvalidInput, match="not a host name or IP address"):
        services.save_webhook_host(actor=admin_user, host=host)
    assert WebhookHost.objects.count() == 0


def test_admin_refuses_a_private_url_on_the_form_and_writes_nothing(client_for, admin_user):
    WebhookHost.objects.create(host="127.0.0.1")
    client = client_for(admin_user)
    response = client.post("/admin/feedback/webhooksubscription/add/", {
        "name": "inside", "url": "http://127.0.0.1:8080/x", "secret": SECRET, "events": ["filed"], "active": "on"})
    assert response.status_code == 200
    assert "private, loopback or link-local" in response.content.decode()
    assert WebhookSubscription.objects.count() == 0


def test_admin_saves_a_subscription_and_shows_deliveries(client_for, admin_user, people, business_user, local_subscription,
                                                         receiver, django_capture_on_commit_callbacks):
    client = client_for(admin_user)
    port = receiver[0].server_port
    response = client.post("/admin/feedback/webhooksubscription/add/", {
        "name": "second", "url": f"http://127.0.0.1:{port}/two", "secret": SECRET, "events": ["resolved"], "active": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert WebhookSubscription.objects.get(name="second").events == ["resolved"]
    _file(people, business_user, django_capture_on_commit_callbacks)
    page = client.get("/admin/feedback/webhookdelivery/")
    assert page.status_code == 200 and "Delivered" in page.content.decode()


def test_admin_sends_a_failed_delivery_again(client_for, admin_user, people, business_user, local_subscription, receiver,
                                             django_capture_on_commit_callbacks):
    _, handler = receiver
    handler.answers = [404]
    _file(people, business_user, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    with django_capture_on_commit_callbacks(execute=True):
        client_for(admin_user).post("/admin/feedback/webhookdelivery/", {"action": "send_again", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


def test_the_send_connects_to_the_address_that_was_checked_not_to_a_second_lookup(
        people, business_user, admin_user, receiver, monkeypatch, django_capture_on_commit_callbacks):
    """DNS rebinding: the name answers the check with the receiver's address and any later lookup with a dead one."""
    server, handler = receiver
    services.save_webhook_host(actor=admin_user, host="hooks.rebind.test", allow_private=True, note="test receiver")
    real, lookups = socket.getaddrinfo, []

    def rebinding(host, *args, **kwargs):
        if host == "hooks.rebind.test":
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) % 2 else "127.0.0.2"  # nothing listens on 127.0.0.2
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, server.server_port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://hooks.rebind.test:{server.server_port}/hook"
    services.save_webhook_subscription(actor=admin_user, name="rebind", url=url, secret=SECRET, events=["filed"])
    lookups.clear()
    _file(people, business_user, django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.get().status == "succeeded"
    assert lookups == ["hooks.rebind.test"]  # checked once, never looked up again by the HTTP client
    headers, _ = handler.received[0]
    assert headers["host"] == f"hooks.rebind.test:{server.server_port}"

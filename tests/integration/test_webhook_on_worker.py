"""An issue event goes out through the real broker; a real worker signs and POSTs it to a local receiver."""

import hashlib
import hmac
import json
import threading
from http.server import ThreadingHTTPServer

import pytest

from feedback import services
from feedback.models import WebhookDelivery
from tests.factories import source_with_fields
from tests.feedback.test_webhooks import SECRET, Receiver
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_real_worker_delivers_a_signed_webhook(celery_worker_process, admin_user, business_user):
    Receiver.answers, Receiver.received = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        services.save_webhook_host(actor=admin_user, host="127.0.0.1", allow_private=True)
        services.save_webhook_subscription(actor=admin_user, name="local", url=f"http://127.0.0.1:{server.server_port}/in",
                                           secret=SECRET, events=["filed"])
        source = source_with_fields("shops", key="id", id="string", name="string")
        issue = services.file_issue(reporter=business_user, title="Missing shop", kind="missing_record",
                                    target={"source": source.slug})
        delivery = wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").first(), timeout=60,
                            message="the worker to deliver the webhook")
        headers, body = Receiver.received[0]
        assert headers["x-steward-signature"] == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert json.loads(body)["issue"]["id"] == issue.pk and delivery.attempts == 1
    finally:
        server.shutdown()
        server.server_close()

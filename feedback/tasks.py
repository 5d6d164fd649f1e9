from celery import shared_task

from feedback import services


def backoff(retries: int) -> int:
    """Seconds before the next try: 30 s, 2 min, 8 min, 32 min."""
    return 30 * 4 ** retries


@shared_task(bind=True, acks_late=True, max_retries=4)
def deliver_webhook(self, delivery_id: int) -> None:
    """Send one webhook delivery; transient failures are retried with exponential backoff, then recorded as failed."""
    from feedback.services import webhooks

    retries = self.request.retries
    while True:
        try:
            webhooks.deliver_webhook(delivery_id=delivery_id, last_try=retries >= self.max_retries)
            return
        except webhooks.DeliveryFailed as exc:
            if not self.request.is_eager:
                raise self.retry(exc=exc, countdown=backoff(retries)) from None
            # Embedded mode (no broker): no worker to come back later, so the tries follow at once.
            retries += 1


@shared_task(acks_late=True)
def recheck_source_corrections(batch_id: int) -> None:
    """Compare the records a batch changed with the corrections their owners were asked for."""
    services.recheck_source_corrections(batch_id=batch_id)

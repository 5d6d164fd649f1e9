from celery import shared_task

from feedback import services


def backoff(retries: int) -> int:
    """Seconds before the next try: 30 s, 2 min, 8 min, 32 min."""
    return 30 * 4 ** retries


@shared_task(bind=True, acks_late=True, max_retries=4)
def deliver_webhook(self, delivery_id: int) -> None:
    """Send one webhook delivery; transient failures are retried with exponential backoff, then recorded as failed."""
    from feedback.services import webhooks

    try:
        webhooks.deliver_webhook(delivery_id=delivery_id, last_try=self.request.retries >= self.max_retries)
    except webhooks.DeliveryFailed as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None


@shared_task(acks_late=True)
def recheck_source_corrections(batch_id: int) -> None:
    """Compare the records a batch changed with the corrections their owners were asked for."""
    services.recheck_source_corrections(batch_id=batch_id)

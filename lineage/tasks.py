from celery import shared_task
from django.conf import settings

from lineage import services


@shared_task(bind=True, acks_late=True)
def deliver_run_event(self, event_id: int) -> str:
    """Send one stored OpenLineage event, trying again with a growing wait while the receiver fails.

    With no broker (tasks run in-process) it is tried once: a retry would hold up the request that ran the job.
    """
    last_try = self.request.is_eager or self.request.retries >= settings.OPENLINEAGE_RETRIES
    outcome = services.deliver_run_event(event_id=event_id, last_try=last_try)
    if outcome == services.Delivery.RETRY:
        raise self.retry(countdown=min(600, 5 * 2 ** self.request.retries))
    return outcome

"""Apps above mastering that react to new data register here (feedback re-checks corrections asked of a source).

Mastering must not import those apps; a finished batch calls every listener inside the batch's transaction, and a
listener that has slow work to do schedules it with transaction.on_commit.
"""

from collections.abc import Callable

from mastering.models import IngestBatch

BatchListener = Callable[[IngestBatch], None]

_LISTENERS: dict[str, BatchListener] = {}


def register_batch_listener(name: str, listener: BatchListener) -> None:
    """Have `listener` called after every batch (table or streamed record) that wrote data (registering again replaces it)."""
    _LISTENERS[name] = listener


def notify_batch_listeners(batch: IngestBatch) -> None:
    """Tell every registered listener about a batch that just succeeded."""
    for listener in _LISTENERS.values():
        listener(batch)

"""What a job's runner reports while it works, and where it learns that it was cancelled."""

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from django.db import DatabaseError, connection, models
from django.utils import timezone

from mastering.models import Job

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside a runner when someone asked the job to stop."""


class SideConnection:
    """Updates and reads rows on a connection of its own (a thread's), apart from the caller's.

    Writes show while the caller's transaction is open, and reads never wait for the caller's connection
    (which a COPY in progress holds). Best effort: a progress figure is never worth waiting for a lock or
    failing the work, so the connection gives up on a lock after a second, and a failure is only logged.
    """

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="side-writer")
        self._thread.submit(self._limit_lock_waits).result()

    @staticmethod
    def _limit_lock_waits() -> None:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")

    def update(self, model: type[models.Model], pk: int, **fields) -> None:
        try:
            self._thread.submit(lambda: model.objects.filter(pk=pk).update(**fields)).result()
        except DatabaseError:
            logger.warning("Could not record progress on %s %s", model.__name__, pk, exc_info=True)

    def ask(self, question: Callable[[], bool]) -> bool:
        """The answer to a read (False if the database cannot answer now)."""
        try:
            return self._thread.submit(question).result()
        except DatabaseError:
            logger.warning("Could not read on the side connection", exc_info=True)
            return False

    def close(self) -> None:
        self._thread.submit(lambda: connection.close()).result()  # looked up in the thread: its own connection
        self._thread.shutdown()


class Progress:
    """What a runner reports while it works; also where it learns it was cancelled."""

    def __init__(self, job: Job):
        self.job = job
        self.started = time.perf_counter()
        self.stage_started = self.started
        self.stage_cpu_started = time.process_time()
        # Mastering stages also report this process's CPU seconds (what load on a shared machine moves less).
        self.cpu_timings = False
        self.timings: dict[str, float] = {}
        self.stage = ""
        self._side: SideConnection | None = None

    def stage_done(self) -> None:
        if self.stage:
            self.timings[self.stage] = round(time.perf_counter() - self.stage_started, 3)
            if self.cpu_timings:
                self.timings[f"{self.stage} CPU"] = round(time.process_time() - self.stage_cpu_started, 3)

    def begin(self, stage: str, fraction: float | None = None) -> None:
        """Start a named stage; the previous one's duration goes into the job's timings."""
        self.stage_done()
        self.stage = stage
        self.stage_started = time.perf_counter()
        self.stage_cpu_started = time.process_time()
        self.update(fraction)

    def update(self, fraction: float | None = None, **counts) -> None:
        """Write progress (0..1) and counts to the job row where pages can see it; stop if cancelled."""
        fields: dict = {"stage": self.stage, "timings": self.timings, "heartbeat_at": timezone.now()}
        if fraction is not None:
            fraction = max(0.0, min(1.0, fraction))
            fields["progress"] = fraction
            elapsed = time.perf_counter() - self.started
            fields["eta_seconds"] = round(elapsed * (1 - fraction) / fraction, 1) if fraction > 0.02 else None
        if counts:
            self.job.counts = {**self.job.counts, **counts}
            fields["counts"] = self.job.counts
        self.write(Job, self.job.pk, **fields)
        self.check_cancelled()

    def write(self, model: type[models.Model], pk: int, **fields) -> None:
        """Update a row the runner reports on (the job's, or one particular to its kind) where pages can see it."""
        if self._side is not None:
            self._side.update(model, pk, **fields)
        else:
            model.objects.filter(pk=pk).update(**fields)

    def check_cancelled(self) -> None:
        """Stop (JobCancelled) if someone asked the job to; a read, so it never waits for the runner's own writes."""
        asked = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists
        if self._side.ask(asked) if self._side is not None else asked():
            raise JobCancelled()

    @contextlib.contextmanager
    def outside_transaction(self) -> Iterator["Progress"]:
        """Report (and look for a cancel) on a connection of its own while the runner holds one long transaction.

        Written inside it, progress would show only at its end, and the job's row would stay locked
        against a cancel until then; and the runner's connection may be busy with a COPY.
        """
        self._side = SideConnection()
        try:
            yield self
        finally:
            self._side.close()
            self._side = None

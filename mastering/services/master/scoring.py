"""Stage 2 of a run: score chunks of candidate pairs, spread over workers."""

import logging
import time

import numpy
from django.db import connection
from django.utils import timezone

from mastering import tasks
from mastering.mapping import mapped_records, projection_for
from mastering.models import Job, ScoredPair
from mastering.services.jobs import fail_job
from mastering.services.master.blocking import SCORING, matcher
from mastering.services.liveness import holding
from mastering.services.master.chunks import Chunked, running

logger = logging.getLogger(__name__)


def start_scoring(job: Job, chunk_numbers: list[int]) -> None:
    """Plan one scoring task per chunk of pairs, or go straight to the finish when there are none."""
    Chunked(job, SCORING).plan([(n, n) for n in chunk_numbers])
    if not chunk_numbers:
        start_finish(job)
        return
    for number in chunk_numbers:
        tasks.score_pairs.delay(job.pk, number)


def score_pairs(*, job_id: int, chunk: int) -> None:
    """Score one chunk of a run's pairs; whoever scores the last chunk starts the finish."""
    job = running(job_id)
    if job is None:
        return
    with holding(job, f"score_pairs {chunk}"):
        _score_chunk(job, chunk)


def _score_chunk(job: Job, chunk: int) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    stage = Chunked(job, SCORING)
    pending = list(ScoredPair.objects.filter(job=job, chunk=chunk, score__isnull=True).values_list("id", "left", "right"))
    try:
        if pending:
            _score(job, pending)
    except Exception as exc:
        logger.exception("Scoring chunk %s of job %s failed", chunk, job.pk)
        fail_job(job, error=f"Scoring failed: {type(exc).__name__}: {exc}")
        raise
    last = stage.complete(chunk, started, cpu_started)
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(progress=0.3 + 0.5 * stage.fraction_done(),
                                                                   heartbeat_at=timezone.now())
    if last:
        start_finish(job)


def _score(job: Job, pending: list[tuple[int, int, int]]) -> None:
    projection = projection_for(job.entity_type)
    records = mapped_records(projection, record_ids={rid for _, left, right in pending for rid in (left, right)})
    pair_array = numpy.array([(left, right) for _, left, right in pending], dtype=numpy.int64).reshape(-1, 2)
    # Every pair whose records are live is scored, in order; a pair with a record retired meanwhile scores 0.
    live = numpy.fromiter((left in records and right in records for _, left, right in pending), dtype=bool, count=len(pending))
    values = numpy.zeros(len(pending))
    scored = [chunk["score"] for chunk in matcher(job.model).score(pair_array[live], records)]
    if scored:
        values[live] = numpy.concatenate(scored)
    ids = [pair_id for pair_id, _, _ in pending]
    values = values.tolist()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "UPDATE mastering_scoredpair p SET score = v.score FROM "
                "(SELECT unnest(%s::bigint[]) AS id, unnest(%s::float8[]) AS score) v WHERE p.id = v.id", [ids, values])
        else:
            cursor.executemany("UPDATE mastering_scoredpair SET score = %s WHERE id = %s", list(zip(values, ids)))


def start_finish(job: Job) -> None:
    # Compare-and-set on the stage: a redelivered last chunk cannot start the finish twice.
    if Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).exclude(stage="clustering").update(stage="clustering"):
        tasks.finish_master.delay(job.pk)

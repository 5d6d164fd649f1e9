"""What one labeling-queue or browse request costs on its own: SQL queries and wall time, in-process.

    DATABASE_URL=postgres://... python benchmarks/request_cost.py --rounds 20          # on a database load.py seeded
    ... --profile answer      # also print cProfile's top functions and one round's SQL for one kind of request

Needs a database with the Person entity type, a curator with a token and a signed-in business user, and open
pairs: `benchmarks/harden/load.py --keep-db` leaves one, or run its `--seed` step on a fresh database. Requests go
through Django's test client (no gunicorn, no network), so the figures are the server's own cost, which the
crowd in load.py multiplies. Prints one JSON line: per request kind, the median and worst milliseconds, the median
CPU milliseconds of this process (the server's Python side, less sensitive to a busy machine than wall time) and
the queries of each round; on PostgreSQL also the mean CPU milliseconds of the backend process that served them.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTITY_TYPE = "person"


def measure(*, rounds: int, profile: str | None) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework.authtoken.models import Token

    from mastering.models import Entity, SourceRecord

    curator = Token.objects.select_related("user").filter(user__username__startswith="curator").order_by("user__username").first()
    browser = get_user_model().objects.filter(username__startswith="browser").order_by("username").first()
    if curator is None or browser is None:
        raise SystemExit("No curator token or browser user: seed the database with benchmarks/harden/load.py first.")
    api = Client(HTTP_AUTHORIZATION=f"Token {curator.key}", HTTP_ACCEPT="application/json")
    pages = Client()
    pages.force_login(browser)
    live = Entity.objects.filter(entity_type__slug=ENTITY_TYPE, retired_at__isnull=True).order_by("size", "pk")
    entity = live[live.count() // 2] if live.exists() else None  # a typical one: the median size
    record = SourceRecord.objects.select_related("source").order_by("pk").first()

    figures: dict[str, dict] = {}
    # Process CPU time, not wall: on a shared machine the wall clock mostly measures the neighbours.
    profiler = cProfile.Profile(time.process_time) if profile else None

    sql: list[str] = []
    backend_pid = None
    if connection.vendor == "postgresql":  # the server's SQL side: this connection's backend process, from /proc
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend_pid = cursor.fetchone()[0]

    def backend_cpu() -> float:
        if backend_pid is None:
            return 0.0
        with open(f"/proc/{backend_pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def timed(kind: str, call, warm_up: bool = False):
        if warm_up:
            return call()
        with CaptureQueriesContext(connection) as queries:
            if profiler and kind == profile:
                profiler.enable()
            started, cpu_started, db_started = time.perf_counter(), time.process_time(), backend_cpu()
            response = call()
            ms = (time.perf_counter() - started) * 1000
            cpu_ms = (time.process_time() - cpu_started) * 1000
            db_cpu_ms = (backend_cpu() - db_started) * 1000
            if profiler and kind == profile:
                profiler.disable()
        entry = figures.setdefault(kind, {"ms": [], "cpu_ms": [], "db_cpu_ms": [], "queries": [], "statuses": []})
        entry["ms"].append(ms)
        entry["cpu_ms"].append(cpu_ms)
        entry["db_cpu_ms"].append(db_cpu_ms)
        entry["queries"].append(len(queries))
        entry["statuses"].append(response.status_code)
        if kind == profile and not sql:
            sql.extend(f"{float(q['time']) * 1000:7.1f} ms  {q['sql'][:300]}" for q in queries.captured_queries)
        return response

    browse = {
        "entity_list": f"/entities/{ENTITY_TYPE}/?page=2",
        "entity": f"/entities/{ENTITY_TYPE}/{entity.pk}/" if entity else None,
        "source": f"/sources/{record.source.slug}/?page=2",
        "record": f"/sources/{record.source.slug}/records/{record.key}/",
    }
    for round_ in range(rounds + 1):
        warm_up = round_ == 0  # the first request of each kind imports and caches; it is not what a server pays
        claimed = timed("claim", lambda: api.post(f"/api/entity-types/{ENTITY_TYPE}/queue/next/"), warm_up)
        if claimed.status_code == 200:
            pair_id = claimed.json()["id"]
            timed("answer", lambda: api.post(f"/api/pairs/{pair_id}/answer/", {"answer": "distinct"},
                                             content_type="application/json"), warm_up)
        for kind, path in browse.items():
            if path:
                timed(kind, lambda: pages.get(path), warm_up)
    result = {kind: {"p50_ms": round(statistics.median(e["ms"]), 1), "max_ms": round(max(e["ms"]), 1),
                     "cpu_p50_ms": round(statistics.median(e["cpu_ms"]), 1),
                     # clock ticks (10 ms) of the backend: the mean over the rounds, not the median of ticks
                     "db_cpu_mean_ms": round(statistics.fmean(e["db_cpu_ms"]), 1),
                     "queries": sorted(set(e["queries"])), "statuses": sorted(set(e["statuses"]))}
              for kind, e in figures.items()}
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(40)
        print(out.getvalue(), "\n".join(sql), sep="\n", file=sys.stderr)
    return {"rounds": rounds, "load_average": round(os.getloadavg()[0], 1), "requests": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--profile", choices=["claim", "answer", "entity_list", "entity", "source", "record"])
    args = parser.parse_args()
    print(json.dumps(measure(rounds=args.rounds, profile=args.profile)), flush=True)


if __name__ == "__main__":
    main()

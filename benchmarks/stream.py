#!/usr/bin/env python
"""Streaming mastering: index N mastered records, then stream new and changed records one request at a time.

usage: .venv/bin/python benchmarks/stream.py [--records 100000] [--stream 2000] [--changed 0.1] [--seed 42]
                                             [--input CSV] [--workers 2] [--labels 50] [--skip-batch-check]
                                             [--database NAME] [--build-only | --resume [--stream-planned 2000]]

To measure several times from the same index: build once with --build-only, copy the database
(createdb -T NAME NAME_copy), then run with --resume --database NAME_copy and the same --records and --seed.

Generates N synthetic people with ../shared/tools/synth_people.py (or reads --input, a CSV with record_id and
true_cluster_id, such as ../shared/datasets/febrl1/data.csv) into a fresh PostgreSQL database, holds some rows
back, loads the rest, teaches the model with a simulated curator (50 labels), and masters them with a batch run,
which leaves every record's blocking keys in the match index. The source then switches to stream mode and
gunicorn serves the app on loopback; the held-back rows (new records) and some loaded rows with one value
changed (changed records) go through `PUT /api/sources/data/records/{key}/` one request at a time, each matched
and placed inside its request. Finally a batch run masters the same data, and the batch-consistency figure is the
share of streamed records it leaves in the entity streaming put them in (ids carry over by overlap, so a record
streaming placed as the batch would keeps its entity id). Prints one JSON line.
"""

import argparse
import csv
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTH = ROOT.parent / "shared" / "tools" / "synth_people.py"
PASSWORD = "bench-password-0123456789"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000, help="records mastered before streaming (synthetic)")
    parser.add_argument("--stream", type=int, default=2000, help="records streamed (at most a fifth of the data)")
    parser.add_argument("--stream-planned", type=int, default=2000,
                        help="with --resume: the --stream of the interrupted run (it decides which rows were held back)")
    parser.add_argument("--changed", type=float, default=0.1, help="share of the streamed records that are changes")
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--input", type=Path, help="a CSV with record_id and true_cluster_id instead of synthetic people")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    parser.add_argument("--database", default="steward_bench_stream")
    parser.add_argument("--skip-batch-check", action="store_true", help="skip the final batch run (no consistency figure)")
    parser.add_argument("--build-only", action="store_true",
                        help="stop once the index is built (nothing streamed); copy the database with createdb -T and "
                             "stream into each copy with --resume, so every measurement starts from the same index")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the database of an interrupted run with the same arguments: stream the next --stream "
                             "rows after those already streamed, then check all of them against a batch run")
    return parser.parse_args()


def prepare_environment(args: argparse.Namespace) -> None:
    """Settings for the benchmark's process and gunicorn; a fresh database unless resuming."""
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnop")
    os.environ["STEWARD_HTTPS"] = "false"
    os.environ["DEBUG"] = "false"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ.pop("CELERY_BROKER_URL", None)  # eager: the batch runs happen in this process
    os.environ["DJANGO_SETTINGS_MODULE"] = "steward.settings"
    if args.resume:
        return
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", args.database], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", args.database], check=True)


def split_rows(path: Path, args: argparse.Namespace, folder: Path) -> tuple[Path, list[dict], list[str]]:
    """(the CSV to load, the rows to stream, the columns). New rows are held back; changed rows alter one value."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    rng = random.Random(args.seed)
    total = min(args.stream, len(rows) // 5)
    n_changed = round(total * args.changed)
    held = set(rng.sample(range(len(rows)), total - n_changed))
    base = [row for i, row in enumerate(rows) if i not in held]
    features = [c for c in header if c not in ("record_id", "true_cluster_id")]
    changed = []
    for row in rng.sample(base, n_changed):
        row = dict(row)
        column = rng.choice(features)
        value = row[column]
        # A typo (one character dropped) or, for an empty value, another record's value.
        row[column] = (value[:-1] if len(value) > 1 else value + "x") if value else rng.choice(base)[column]
        changed.append(row)
    streamed = [rows[i] for i in sorted(held)] + changed
    rng.shuffle(streamed)
    base_path = folder / "data" / "data.csv"
    base_path.parent.mkdir()
    with open(base_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(base)
    return base_path, streamed, header


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def load_average() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def server_cpu_s(server_pid: int) -> float:
    """CPU seconds (user + system) the gunicorn workers (children of server_pid) have used so far."""
    children = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True).stdout.split()
    ticks = 0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    args = arguments()
    prepare_environment(args)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.services import create_user
    from curation import benchmarking
    from mastering.models import IngestBatch, Membership, RecordBlockKey, Source, SourceRecord

    call_command("migrate", verbosity=0)
    folder = Path(tempfile.mkdtemp(prefix="steward-stream-"))
    source_csv = args.input
    if source_csv is None:
        source_csv = folder / "people.csv"
        held_back = args.stream_planned if args.resume else args.stream
        subprocess.run([sys.executable, str(SYNTH), str(args.records + held_back), str(source_csv), "--seed",
                        str(args.seed)], check=True, stdout=subprocess.DEVNULL)
    planned = args.stream
    if args.resume:  # the same rows as the interrupted run: the split depends only on the data, the seed and its --stream
        args.stream = args.stream_planned
    base_csv, streamed, header = split_rows(source_csv, args, folder)
    dataset = benchmarking.dedup_dataset(source_csv, id_column="record_id", truth_column="true_cluster_id", fields=None)
    dataset.tables = [("data", base_csv)]
    if args.resume:
        done = IngestBatch.objects.filter(channel=IngestBatch.Channel.STREAM).count()
        resume(args, dataset, streamed[:done], streamed[done:done + planned], header)
        return
    clock = time.perf_counter()
    entity_type = benchmarking.load(dataset, seed=args.seed)
    load_s = time.perf_counter() - clock
    curator = create_user(username="simulated-curator", password=PASSWORD, role="curator")
    clock = time.perf_counter()
    simulated = benchmarking.SimulatedCurator(dataset, entity_type, curator, args.seed)
    simulated.label(args.labels)
    benchmarking.train_now(entity_type)
    entity_type.refresh_from_db()
    train_s = time.perf_counter() - clock
    first_job, first_master_s = benchmarking.run_master(entity_type)
    indexed = RecordBlockKey.objects.filter(model=entity_type.active_model).values("record").distinct().count()
    Source.objects.filter(slug="data").update(ingest_mode=Source.IngestMode.STREAM)
    create_user(username="stream-engineer", password=PASSWORD, role="data engineer")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE mastering_recordblockkey")  # as autovacuum would after a run's bulk insert
    connection.close()
    if args.build_only:
        print(json.dumps({"built": args.database, "indexed_records": indexed, "load_s": round(load_s, 1),
                          "label_and_train_s": round(train_s, 1), "first_master_s": round(first_master_s, 1),
                          "held_back": args.stream, "load_average": load_average()}))
        return

    port = args.port or free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "steward.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"],
        cwd=ROOT, env=os.environ.copy(), stdout=open(folder / "gunicorn.log", "w"), stderr=subprocess.STDOUT)
    try:
        figures = stream_all(port, streamed, header, args, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    django.db.connections.close_all()

    streamed_keys = [row["record_id"] for row in streamed]
    ids = dict(SourceRecord.objects.filter(source__slug="data", key__in=streamed_keys).values_list("key", "pk"))
    placed = {r: str(e) for r, e in Membership.objects.filter(record_id__in=ids.values()).values_list("record_id", "entity_id")}
    stream_quality = benchmarking.evaluate(dataset, entity_type)
    result = {
        "indexed_records": indexed, "streamed": len(streamed), "new": len(streamed) - round(len(streamed) * args.changed),
        "changed": round(len(streamed) * args.changed), **figures,
        "placed": len(placed), "stream_f1": stream_quality.get("f1"),
    }
    if not args.skip_batch_check:
        job, second_master_s = benchmarking.run_master(entity_type)
        after = {r: str(e) for r, e in Membership.objects.filter(record_id__in=ids.values()).values_list("record_id", "entity_id")}
        same = sum(1 for r, e in placed.items() if after.get(r) == e)
        result.update({"batch_consistency": round(same / len(placed), 4) if placed else None,
                       "batch_f1": benchmarking.evaluate(dataset, entity_type).get("f1"),
                       "second_master_s": round(second_master_s, 1)})
    result.update({
        "data": str(args.input) if args.input else f"synthetic people, seed {args.seed}",
        "labels": simulated.answered, "model_version": entity_type.active_model.version,
        "first_master_s": round(first_master_s, 1), "load_s": round(load_s, 1), "label_and_train_s": round(train_s, 1),
        "gunicorn_workers": args.workers, "database": "postgresql", "load_average": load_average(),
    })
    print(json.dumps(result))


def resume(args, dataset, earlier: list[dict], rows: list[dict], header: list[str]) -> None:
    """Stream the next rows into an interrupted run's database, then the batch check over everything streamed."""
    import django

    from curation import benchmarking
    from mastering.models import EntityType, Membership, RecordBlockKey, SourceRecord

    entity_type = EntityType.objects.get(slug="bench")
    indexed = RecordBlockKey.objects.filter(model=entity_type.active_model).values("record").distinct().count()
    django.db.connections.close_all()
    port = args.port or free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "steward.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning"], cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        figures = stream_all(port, rows, header, args, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    django.db.connections.close_all()
    keys = [row["record_id"] for row in earlier + rows]
    ids = dict(SourceRecord.objects.filter(source__slug="data", key__in=keys).values_list("key", "pk"))
    placed = {r: str(e) for r, e in Membership.objects.filter(record_id__in=ids.values()).values_list("record_id", "entity_id")}
    result = {"indexed_records": indexed, "streamed_before_resume": len(earlier), "streamed": len(rows), **figures,
              "placed": len(placed), "stream_f1": benchmarking.evaluate(dataset, entity_type).get("f1")}
    if not args.skip_batch_check:
        job, seconds = benchmarking.run_master(entity_type)
        after = {r: str(e) for r, e in Membership.objects.filter(record_id__in=ids.values()).values_list("record_id", "entity_id")}
        same = sum(1 for r, e in placed.items() if after.get(r) == e)
        result.update({"batch_consistency": round(same / len(placed), 4) if placed else None, "consistency_over": len(placed),
                       "batch_f1": benchmarking.evaluate(dataset, entity_type).get("f1"), "second_master_s": round(seconds, 1)})
    result.update({"data": str(args.input) if args.input else f"synthetic people, seed {args.seed}",
                   "model_version": entity_type.active_model.version, "gunicorn_workers": args.workers,
                   "database": "postgresql", "load_average": load_average()})
    print(json.dumps(result))


def stream_all(port: int, streamed: list[dict], header: list[str], args: argparse.Namespace, server_pid: int) -> dict:
    """PUT every streamed row one at a time over one keep-alive connection; latency and server CPU per request.

    Then as many read-only matches (POST .../match/) of the same rows, at most 200, for their latency and CPU."""
    link = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    token = None
    for _ in range(100):
        try:
            link.request("POST", "/api/auth/token/", json.dumps({"username": "stream-engineer", "password": PASSWORD}),
                         {"Content-Type": "application/json"})
            token = json.loads(link.getresponse().read())["token"]
            break
        # Not up yet; on a loaded machine a worker still booting may time out or be restarted by gunicorn.
        except (ConnectionRefusedError, ConnectionResetError, TimeoutError, http.client.RemoteDisconnected):
            time.sleep(0.2)
            link.close()
            link = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    if token is None:
        raise SystemExit("gunicorn did not answer the token request")
    headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
    fields = [c for c in header if c != "true_cluster_id"]
    # Warm every worker (its matcher and cached projection load on first use) with read-only matches.
    for row in streamed[: 10 * args.workers]:
        link.request("POST", "/api/entity-types/bench/match/", json.dumps({"record": {c: row[c] for c in fields}, "source": "data"}),
                     headers)
        link.getresponse().read()
    latencies, statuses, actions = [], {}, {}
    cpu_before = server_cpu_s(server_pid)
    started = time.perf_counter()
    for row in streamed:
        body = json.dumps({"data": {c: row[c] for c in fields}})
        clock = time.perf_counter()
        link.request("PUT", f"/api/sources/data/records/{row['record_id']}/", body, headers)
        response = link.getresponse()
        payload = response.read()
        latencies.append((time.perf_counter() - clock) * 1000)
        statuses[response.status] = statuses.get(response.status, 0) + 1
        if response.status == 200:
            for placement in json.loads(payload).get("placements", ()):
                actions[placement["action"]] = actions.get(placement["action"], 0) + 1
    elapsed = time.perf_counter() - started
    put_cpu_ms = (server_cpu_s(server_pid) - cpu_before) * 1000 / len(latencies)
    matches = []
    cpu_before = server_cpu_s(server_pid)
    for row in streamed[:200]:
        body = json.dumps({"record": {c: row[c] for c in fields if c != "record_id"}, "source": "data"})
        clock = time.perf_counter()
        link.request("POST", "/api/entity-types/bench/match/", body, headers)
        link.getresponse().read()
        matches.append((time.perf_counter() - clock) * 1000)
    match_cpu_ms = (server_cpu_s(server_pid) - cpu_before) * 1000 / len(matches)
    return {"p50_ms": round(percentile(latencies, 0.5), 1), "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1), "mean_ms": round(statistics.fmean(latencies), 1),
            "records_per_s": round(len(latencies) / elapsed, 1), "statuses": statuses, "actions": actions,
            "server_cpu_ms_per_put": round(put_cpu_ms, 1),
            "match_p50_ms": round(percentile(matches, 0.5), 1), "match_p95_ms": round(percentile(matches, 0.95), 1),
            "server_cpu_ms_per_match": round(match_cpu_ms, 1)}


if __name__ == "__main__":
    main()

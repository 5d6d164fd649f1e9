#!/usr/bin/env python
"""Mastering at scale: N synthetic people on PostgreSQL, real Celery workers (one by default), 50 simulated labels.

usage: .venv/bin/python benchmarks/master_scale.py [N] [--labels 50] [--seed 42] [--concurrency 2] [--workers 1] [--rerun]
       make bench-master N=100000 [BENCH_ARGS="--concurrency 1 --heavy-tail"]

Generates N Febrl-style records with ../shared/tools/synth_people.py (or --input CSV with record_id and
true_cluster_id), loads them into a fresh PostgreSQL database (steward_bench), teaches the model with a
simulated curator through the queue services (in this process), then times one mastering job run by a
separate `celery worker` on Redis, sampling the resident memory of every process involved. Prints one
JSON line: stage timings, pairs compared (total and per blocking rule), peak RSS, pairwise F1, and the CPU
seconds the mastering job cost the worker processes and the PostgreSQL server (summed over its backends,
from /proc/<pid>/stat), with the load average: on a shared machine CPU seconds move less than wall time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTH = ROOT.parent / "shared" / "tools" / "synth_people.py"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=100_000)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--concurrency", type=int, default=2, help="processes in each worker's pool")
    parser.add_argument("--workers", type=int, default=1,
                        help="separate worker processes on the same broker and database, as separate machines would be")
    parser.add_argument("--input", type=Path, help="use this CSV instead of generating one")
    parser.add_argument("--heavy-tail", action="store_true", help="generate with --heavy-tail (large clusters)")
    parser.add_argument("--dup-rate", type=float, help="generate with this --dup-rate")
    parser.add_argument("--database", default="steward_bench")
    parser.add_argument("--niceness", type=int, default=0,
                        help="the worker's STEWARD_WORKER_NICENESS (default 0: on a machine shared with other work, the "
                             "production default of 10 measures the other work, not mastering)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--rerun", action="store_true",
                        help="then run the job again on the unchanged data and report that run too (key \"rerun\")")
    return parser.parse_args()


def prepare_environment(args: argparse.Namespace) -> None:
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-0123456789-abcdefghijklmnop")
    os.environ.setdefault("STEWARD_HTTPS", "false")
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ["CELERY_BROKER_URL"] = args.broker
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"steward-bench-{os.getpid()}"
    os.environ["STEWARD_WORKER_NICENESS"] = str(args.niceness)
    os.environ["DJANGO_SETTINGS_MODULE"] = "steward.settings"
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", args.database], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", args.database], check=True)


def postgres_backend_cpu(database: str) -> dict[int, float]:
    """User + system CPU seconds of each PostgreSQL backend serving `database`, by pid (from /proc/<pid>/stat).

    The server is shared with other work on the machine, so only this database's backends count; a sampler
    polls them because a backend's figure is gone once its connection closes.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not title.startswith("postgres:") or f" {database} " not in title:
                continue
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return found


class MemorySampler(threading.Thread):
    """Peak resident memory of this process and of the worker process tree, and the CPU seconds of the worker tree."""

    def __init__(self, pids: list[int], database: str):
        super().__init__(daemon=True)
        self.pids = pids
        self.database = database
        self.postgres_s: dict[int, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.cpu_s: dict[int, float] = {}  # last seen per worker process (a process's CPU time only grows)
        self.running = True

    def run(self) -> None:
        import psutil

        while self.running:
            for pid in self.pids:
                try:
                    root = psutil.Process(pid)
                    for process in [root, *root.children(recursive=True)]:
                        name = "benchmark" if process.pid == os.getpid() else f"worker-{process.pid}"
                        self.peak_mb[name] = max(self.peak_mb.get(name, 0), process.memory_info().rss / 2**20)
                        if process.pid != os.getpid():
                            times = process.cpu_times()
                            self.cpu_s[process.pid] = times.user + times.system
                except psutil.Error:
                    continue
            self.postgres_s.update(postgres_backend_cpu(self.database))
            time.sleep(0.2)


def run_once(entity_type, start_job, Job):
    """Start one mastering job and wait for it; returns it with its wall seconds."""
    started = time.perf_counter()
    job = start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    while job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        time.sleep(0.5)
        job.refresh_from_db()
    seconds = time.perf_counter() - started
    time.sleep(0.5)  # one more sample of the CPU times
    return job, seconds


def main() -> None:
    args = arguments()
    prepare_environment(args)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.services import create_user
    from curation import benchmarking
    from mastering.models import Job, RecordBlockKey
    from mastering.services import start_job
    from steward.celery import app as celery_app

    call_command("migrate", verbosity=0)
    folder = Path(tempfile.mkdtemp(prefix="steward-scale-"))
    source_csv = args.input
    if source_csv is None:
        source_csv = folder / "people.csv"
        options = ["--heavy-tail"] if args.heavy_tail else []
        options += ["--dup-rate", str(args.dup_rate)] if args.dup_rate is not None else []
        subprocess.run([sys.executable, str(SYNTH), str(args.records), str(source_csv), "--seed", str(args.seed), *options],
                       check=True)
    dataset = benchmarking.dedup_dataset(source_csv, id_column="record_id", truth_column="true_cluster_id", fields=None)
    clock = time.perf_counter()
    celery_app.conf.task_always_eager = True
    entity_type = benchmarking.load(dataset, seed=args.seed)
    load_s = time.perf_counter() - clock
    curator = create_user(username="simulated-curator", password="x" * 20, role="curator")
    clock = time.perf_counter()
    simulated = benchmarking.SimulatedCurator(dataset, entity_type, curator, args.seed)
    simulated.label(args.labels)
    benchmarking.train_now(entity_type)
    train_s = time.perf_counter() - clock
    entity_type.refresh_from_db()
    celery_app.conf.task_always_eager = False
    workers = [subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "steward", "worker", "--loglevel=WARNING", f"--concurrency={args.concurrency}",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-n", f"bench-{os.getpid()}-{n}@%h"],
        cwd=ROOT, env=os.environ.copy(), stdout=open(folder / f"worker-{n}.log", "w"), stderr=subprocess.STDOUT,
    ) for n in range(args.workers)]
    time.sleep(3)
    sampler = MemorySampler([os.getpid(), *(worker.pid for worker in workers)], args.database)
    sampler.start()
    time.sleep(0.5)
    worker_cpu_before, postgres_before = sum(sampler.cpu_s.values()), sum(sampler.postgres_s.values())
    rerun = None
    try:
        job, master_s = run_once(entity_type, start_job, Job)
        cpu = {"worker": round(sum(sampler.cpu_s.values()) - worker_cpu_before, 1),
               "postgres_backends": round(sum(sampler.postgres_s.values()) - postgres_before, 1)}
        if args.rerun and job.status == Job.Status.DONE:
            worker_cpu_again, postgres_again = sum(sampler.cpu_s.values()), sum(sampler.postgres_s.values())
            again, again_s = run_once(entity_type, start_job, Job)
            rerun = {"status": again.status, "master_wall_s": round(again_s, 1), "share_of_first_run": round(again_s / master_s, 3),
                     "stage_timings_s": again.timings,
                     "counts": {k: again.counts.get(k) for k in ("pairs", "pairs_scored", "pairs_reused", "changed_records",
                                                                   "retired_records", "unchanged", "entities")},
                     "cpu_s": {"worker": round(sum(sampler.cpu_s.values()) - worker_cpu_again, 1),
                               "postgres_backends": round(sum(sampler.postgres_s.values()) - postgres_again, 1)}}
    finally:
        sampler.running = False
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a child still busy with a late task: the figures are taken already
                worker.kill()
                worker.wait(timeout=30)
    if job.status != Job.Status.DONE:
        raise SystemExit(f"mastering {job.status}: {job.error}\n{(folder / 'worker-0.log').read_text()[-3000:]}")
    quality = benchmarking.evaluate(dataset, entity_type)
    # Match-index rows per record: what blocking wrote, and what its cost grows with.
    keys = RecordBlockKey.objects.filter(model_id=job.model_id).count()
    bands = benchmarking.recall_by_cluster_size(benchmarking.entity_members(entity_type),
                                                truth=benchmarking.truth_by_record(dataset))
    print(json.dumps({
        "records": len(dataset.truth), "labels": simulated.answered, "model_version": entity_type.active_model.version,
        "master_wall_s": round(master_s, 1), "stage_timings_s": job.timings, "pairs_compared": job.counts.get("pairs"),
        "per_predicate": job.counts.get("per_predicate"), "entities": job.counts.get("entities"),
        "block_keys_per_record": round(keys / len(dataset.truth), 2),
        "peak_rss_mb": {name: round(mb, 1) for name, mb in sorted(sampler.peak_mb.items())},
        "peak_rss_mb_max": round(max(sampler.peak_mb.values()), 1),
        "cpu_s": cpu, **({"rerun": rerun} if rerun else {}),
        "load_average": [round(x, 2) for x in os.getloadavg()], **quality, "recall_by_cluster_size": bands,
        "load_s": round(load_s, 1), "label_and_train_s": round(train_s, 1), "workers": args.workers, "worker_concurrency": args.concurrency, "worker_niceness": args.niceness,
        "input": str(args.input) if args.input else f"synth_people {args.records} seed {args.seed}"
                 + (" heavy-tail" if args.heavy_tail else "") + (f" dup-rate {args.dup_rate}" if args.dup_rate else ""),
        "database": "postgresql", "seed": args.seed,
    }))


if __name__ == "__main__":
    main()

"""Labeling-queue load: 50 curators claiming and answering pairs while 20 people browse, on gunicorn and PostgreSQL.

    /work/main/.venv/bin/python benchmarks/harden/load.py                  # 2 minutes, 50 curators, 20 browsers
    /work/main/.venv/bin/python benchmarks/harden/load.py --seconds 20     # a short run while developing
    ... --no-worker     # no broker: training runs inside the answering request (the embedded default)

Creates a fresh database (steward_probe_input_load on 127.0.0.1 unless --database-url), migrates it, loads
the demo data (three sources, 384 people, the Person entity type), tries a mastering run so entity pages
exist, adds the users (a token each for curators, a session each for browsers) and bulk-creates enough open
candidate pairs for the run (as the queue's refill does: one row per pair, priority in order). Then starts
gunicorn on a loopback port (--gunicorn-workers, default 4, as the README's production line) and, unless
--no-worker, one Celery worker on Redis (its own queue name) so the retraining that every 10 answers
starts runs beside the requests, as in production. Curators loop: POST queue/next, think (--think, default
0.5-2 s), POST pairs/{id}/answer (match or distinct at random). Browsers loop: entity list, entity pages,
source pages and record pages, with a 1-3 s pause. Every request is timed by the client, queueing included.

Figures: pairs_held_by_two (a pair handed to a second curator between the first's claim and answer, seen by
the clients; plus pairs with more active labels than answers needed, seen in the database),
lost_answers (answers acknowledged with 201 minus those stored), claim and answer p50/p95/p99 ms,
browse p95 ms, counts of every status, and the server's 5xx; cpu_s, the CPU seconds each part spent during the run
(this client, gunicorn, the Celery worker, PostgreSQL backends by who they serve, Redis, and the whole machine, whose
other tenants show as machine minus the rest: cpu_split.py), and server_cpu_ms_per_request. Targets: 0, 0, claim p95 <= 150, answer p95
<= 200, browse p95 <= 300; measured, never tuned here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):  # run as a script: benchmarks/harden/load.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.harden.cpu_split import CpuSplit

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/steward_probe_input_load"
ENTITY_TYPE = "person"


# ---------------------------------------------------------------------------------------------- seeding (child process)


def seed(*, curators: int, browsers: int, pairs: int) -> dict:
    """Runs with Django set up on the fresh database: demo data, users, credentials, pairs; returns what the clients need."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # a throwaway database: fast seeding
    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_demo", "--no-users", stdout=open(os.devnull, "w"))

    from django.test import Client
    from rest_framework.authtoken.models import Token

    from accounts.services import create_user
    from curation.models import CandidatePair
    from mastering.mapping import projection_for
    from mastering.models import Entity, EntityType, SourceRecord

    tokens = []
    for i in range(curators):
        user = create_user(username=f"curator{i:02d}", password="load-curator-pass-1", role="curator")
        tokens.append(Token.objects.get_or_create(user=user)[0].key)
    sessions = []
    for i in range(browsers):
        user = create_user(username=f"browser{i:02d}", password="load-browser-pass-1", role="business user")
        client = Client()
        client.force_login(user)
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)

    entity_type = EntityType.objects.get(slug=ENTITY_TYPE)
    mastered = ""
    try:  # entity pages need entities: 40 labels from the demo's truth, a model, a mastering run
        import csv

        from curation.services import import_labels
        from mastering.demo import DEMO_DIR

        with open(DEMO_DIR / "truth.csv", newline="") as handle:
            truth = [(row["record"].split(":", 1), row["person"]) for row in csv.DictReader(handle)]
        people = defaultdict(list)
        for record, person in truth:
            people[person].append({"source": record[0], "key": record[1]})
        groups = [members for members in people.values() if len(members) > 1]
        rows = [{"left": g[0], "right": g[1], "answer": "match"} for g in groups[:20]]
        rows += [{"left": groups[i][0], "right": groups[i + 1][0], "answer": "distinct"} for i in range(20, 40)]
        steward = create_user(username="seed-steward", password="load-steward-pass-1", role="steward")
        import_labels(entity_type=entity_type, rows=rows, curator=steward)
        call_command("master", ENTITY_TYPE, "--kind", "train", stdout=open(os.devnull, "w"))
        call_command("master", ENTITY_TYPE, stdout=open(os.devnull, "w"))
    except Exception as exc:  # noqa: BLE001 - reported: then only the entity list is browsed
        mastered = f"{type(exc).__name__}: {exc}"[:300]

    record_ids = sorted(SourceRecord.objects.filter(source_id__in=projection_for(entity_type).source_ids).values_list("pk", flat=True))
    rng = random.Random(7)
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < min(pairs, len(record_ids) * (len(record_ids) - 1) // 2):
        a, b = rng.sample(record_ids, 2)
        chosen.add((min(a, b), max(a, b)))
    base = time.time()
    CandidatePair.objects.bulk_create(
        [CandidatePair(entity_type=entity_type, left_id=a, right_id=b, origin=CandidatePair.Origin.RANDOM,
                       priority=base + n / 1000, answers_needed=entity_type.overlap)
         for n, (a, b) in enumerate(sorted(chosen, key=lambda _: rng.random()))],
        batch_size=5000, ignore_conflicts=True,  # a drawn pair may be one of the imported labels' pairs
    )
    records = list(SourceRecord.objects.filter(pk__in=record_ids).values_list("source__slug", "key")[:400])
    entities = [str(pk) for pk in Entity.objects.filter(entity_type=entity_type).values_list("pk", flat=True)[:400]]
    return {"tokens": tokens, "sessions": sessions, "records": records, "entities": entities, "pairs": len(chosen),
            "answers_needed": entity_type.overlap, "retrain_every": entity_type.retrain_every, "master_error": mastered,
            "session_cookie": settings.SESSION_COOKIE_NAME}


def database_counts() -> dict:
    """Runs with Django set up: what the database holds after the run."""
    import django

    django.setup()
    from django.db.models import Count, F, Q

    from curation.models import CandidatePair, Label
    from mastering.models import Job

    active = Label.objects.active().filter(origin=Label.Origin.QUEUE)
    over = (CandidatePair.objects.annotate(n=Count("labels", filter=Q(labels__revoked_at__isnull=True)))
            .filter(n__gt=F("answers_needed")).count())
    jobs = Counter(f"{kind}:{status}" for kind, status in Job.objects.values_list("kind", "status"))
    return {"labels_stored": active.count(), "label_ids": list(active.values_list("pk", flat=True)),
            "pairs_over_answered": over, "jobs": dict(jobs)}


# ---------------------------------------------------------------------------------------------- clients


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: Counter = Counter()
        self.errors: list[str] = []
        self.holds: dict[int, list[tuple[int, float, float]]] = defaultdict(list)  # pair → (curator, from, to)
        self.acknowledged: list[int] = []

    def add(self, what: str, status: int, ms: float) -> None:
        with self.lock:
            self.statuses[f"{what} {status}"] += 1
            if 200 <= status < 400:
                self.times[what].append(ms)
            if status >= 500 or status == 0:
                if len(self.errors) < 20:
                    self.errors.append(f"{what} {status}")


class Http:
    """One keep-alive connection per simulated person, reopened when gunicorn closes it."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.port, self.headers = port, headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes, float]:
        hdrs = {**self.headers, **(headers or {})}
        for attempt in range(2):
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=hdrs)
                response = self.conn.getresponse()
                data = response.read()
                ms = (time.perf_counter() - started) * 1000
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status, data, ms
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                if attempt:
                    return 0, b"", (time.perf_counter() - started) * 1000
        return 0, b"", 0.0


def curator_loop(index: int, token: str, port: int, deadline: float, think: tuple[float, float], rec: Recorder) -> None:
    rng = random.Random(index)
    client = Http(port, {"Authorization": f"Token {token}", "Content-Type": "application/json", "Accept": "application/json"})
    time.sleep(rng.uniform(0, think[1]))  # people do not all start on the same second
    while time.time() < deadline:
        status, body, ms = client.request("POST", f"/api/entity-types/{ENTITY_TYPE}/queue/next/", b"")
        claimed_at = time.time()
        rec.add("claim", status, ms)
        if status != 200:
            time.sleep(1.0 if status == 204 else 0.5)
            continue
        pair_id = json.loads(body)["id"]
        time.sleep(rng.uniform(*think))
        if time.time() >= deadline:
            with rec.lock:
                rec.holds[pair_id].append((index, claimed_at, float("inf")))
            break
        answer = rng.choice(["match", "distinct"])
        sent_at = time.time()
        status, body, ms = client.request("POST", f"/api/pairs/{pair_id}/answer/", json.dumps({"answer": answer}).encode())
        rec.add("answer", status, ms)
        with rec.lock:
            rec.holds[pair_id].append((index, claimed_at, sent_at))
            if status == 201:
                rec.acknowledged.append(json.loads(body)["id"])


def browser_loop(index: int, session: str, cookie: str, port: int, deadline: float, targets: dict, rec: Recorder) -> None:
    rng = random.Random(1000 + index)
    client = Http(port, {"Cookie": f"{cookie}={session}"})
    time.sleep(rng.uniform(0, 2))
    while time.time() < deadline:
        choice = rng.random()
        if choice < 0.25 or not (targets["entities"] or targets["records"]):
            path, what = f"/entities/{ENTITY_TYPE}/?page={rng.randint(1, 3)}", "browse_entity_list"
        elif choice < 0.55 and targets["entities"]:
            path, what = f"/entities/{ENTITY_TYPE}/{rng.choice(targets['entities'])}/", "browse_entity"
        elif choice < 0.7:
            slug = rng.choice(targets["records"])[0]
            path, what = f"/sources/{slug}/?page={rng.randint(1, 3)}", "browse_source"
        else:
            slug, key = rng.choice(targets["records"])
            path, what = f"/sources/{slug}/records/{key}/", "browse_record"
        status, _, ms = client.request("GET", path)
        rec.add(what, status, ms)
        if status in (301, 302):
            rec.add("browse_redirected_to_login", status, ms)
        time.sleep(rng.uniform(1.0, 3.0))


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1)


def held_by_two(holds: dict[int, list[tuple[int, float, float]]]) -> tuple[int, list[str]]:
    """Pairs that two curators held at once: the second claim came between the first's claim and answer."""
    bad, examples = 0, []
    for pair_id, spans in holds.items():
        spans = sorted(spans, key=lambda s: s[1])
        overlap = any(a[0] != b[0] and b[1] < a[2] for i, a in enumerate(spans) for b in spans[i + 1:])
        if overlap:
            bad += 1
            if len(examples) < 5:
                examples.append(f"pair {pair_id}: curators {[s[0] for s in spans]}")
    return bad, examples


# ---------------------------------------------------------------------------------------------- orchestration


def _env(database_url: str, data_dir: str, worker: bool, queue: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "DATABASE_URL"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "steward.settings", "DATABASE_URL": database_url, "DEBUG": "false", "STEWARD_HTTPS": "false",
        "SECRET_KEY": "load-probe-only-key-not-for-any-deployment-0123456789abcdef", "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STEWARD_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
    })
    if worker:
        env.update({"CELERY_BROKER_URL": "redis://127.0.0.1:6379/7", "CELERY_TASK_DEFAULT_QUEUE": queue})
    return env


def _recreate_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name or "steward_ci" in name:
        raise SystemExit(f"Refusing to recreate database {name!r}.")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def _child(mode: str, env: dict, **kwargs) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), f"--{mode}", json.dumps(kwargs)], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, text=True, check=True)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def _wait_healthy(port: int, server: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status in (200, 503):
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


TARGETS = {
    "pairs_held_by_two": ("==", 0),
    "lost_answers": ("==", 0),
    "server_errors": ("==", 0),
    "claim_p95_ms": ("<=", 150),
    "answer_p95_ms": ("<=", 200),
    "browse_p95_ms": ("<=", 300),
}


def run(*, seconds: float = 120, curators: int = 50, browsers: int = 20, think: str = "0.5,2.0", port: int = 8791,
        gunicorn_workers: int = 4, worker: bool = True, database_url: str = DEFAULT_DATABASE_URL, keep_db: bool = False,
        pairs: int | None = None, progress: bool = False) -> dict:
    """Seed a fresh database, serve it with gunicorn (and a Celery worker), run the curators and browsers; return the figures."""
    think_range = tuple(float(x) for x in think.split(","))
    pairs = pairs or max(2000, int(curators * seconds / think_range[0] * 1.2))
    data_dir = tempfile.mkdtemp(prefix="steward-load-")
    queue = f"probe_input_load_{os.getpid()}"
    env = _env(database_url, data_dir, worker, queue)
    log = (lambda *a: print("[load]", *a, file=sys.stderr, flush=True)) if progress else (lambda *a: None)
    _recreate_database(database_url)
    server = celery = None
    try:
        started = time.time()
        seeded = _child("seed", {**env, "CELERY_BROKER_URL": ""}, curators=curators, browsers=browsers, pairs=pairs)
        log(f"seeded in {time.time() - started:.0f}s: {seeded['pairs']} pairs, {len(seeded['entities'])} entities",
            seeded["master_error"])
        bin_dir = Path(sys.executable).parent
        server = subprocess.Popen([str(bin_dir / "gunicorn"), "steward.wsgi", "--bind", f"127.0.0.1:{port}", "--workers",
                                   str(gunicorn_workers), "--timeout", "120", "--log-level", "warning", "--preload"],
                                  cwd=ROOT, env={**env, "PGAPPNAME": "gunicorn"}, stdout=subprocess.DEVNULL, stderr=open(Path(data_dir) / "gunicorn.log", "w"))
        if worker:
            celery = subprocess.Popen([str(bin_dir / "celery"), "-A", "steward", "worker", "-Q", queue, "--concurrency", "1",
                                       "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                                      cwd=ROOT, env={**env, "PGAPPNAME": "celery"}, stdout=subprocess.DEVNULL, stderr=open(Path(data_dir) / "celery.log", "w"))
        _wait_healthy(port, server)
        rec = Recorder()
        # One curator alone first, answering at once: the service time without the crowd, to read the crowd's figures against.
        solo = Recorder()
        curator_loop(0, seeded["tokens"][0], port, time.time() + 10, (0.0, 0.0), solo)
        rec.acknowledged += solo.acknowledged
        for pair_id, spans in solo.holds.items():
            rec.holds[pair_id] += spans
        load_before = os.getloadavg()[0]
        cpu = CpuSplit(roots={"gunicorn": server.pid, "celery": celery.pid if celery else None},
                       database=urlsplit(database_url).path.lstrip("/"), database_url=database_url).start()
        deadline = time.time() + seconds
        threads = [threading.Thread(target=curator_loop, args=(i, t, port, deadline, think_range, rec), daemon=True)
                   for i, t in enumerate(seeded["tokens"])]
        threads += [threading.Thread(target=browser_loop, args=(i, s, seeded["session_cookie"], port, deadline, seeded, rec), daemon=True)
                    for i, s in enumerate(seeded["sessions"])]
        log(f"running {curators} curators and {browsers} browsers for {seconds:.0f}s on port {port}")
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            time.sleep(5)
            if progress:
                log(f"{max(0, deadline - time.time()):.0f}s left: {dict(rec.statuses)}")
            if time.time() > deadline + 120:
                break
        load_after = os.getloadavg()[0]
        cpu_seconds = cpu.stop()
        _stop(celery)
        stored = _child("counts", {**env, "CELERY_BROKER_URL": ""})
    finally:
        _stop(server)
        _stop(celery)
    two, examples = held_by_two(rec.holds)
    acknowledged = set(rec.acknowledged)
    browse = [ms for what, values in rec.times.items() if what.startswith("browse_") for ms in values]
    figures = {
        "seconds": seconds, "curators": curators, "browsers": browsers, "think_s": list(think_range),
        "gunicorn_workers": gunicorn_workers, "celery_worker": worker, "pairs_seeded": seeded["pairs"],
        "entities_browsable": len(seeded["entities"]),
        "pairs_held_by_two": two + stored["pairs_over_answered"],
        "pairs_held_by_two_clients": two, "pairs_over_answered_db": stored["pairs_over_answered"],
        "answers_acknowledged": len(rec.acknowledged),
        "answers_stored": stored["labels_stored"],
        "lost_answers": len(acknowledged - set(stored["label_ids"])) + (len(rec.acknowledged) - len(acknowledged)),
        "claims": len(rec.times["claim"]),
        "claim_p50_ms": pct(rec.times["claim"], 50), "claim_p95_ms": pct(rec.times["claim"], 95),
        "claim_p99_ms": pct(rec.times["claim"], 99),
        "answer_p50_ms": pct(rec.times["answer"], 50), "answer_p95_ms": pct(rec.times["answer"], 95),
        "answer_p99_ms": pct(rec.times["answer"], 99),
        "solo_claim_p50_ms": pct(solo.times["claim"], 50), "solo_answer_p50_ms": pct(solo.times["answer"], 50),
        "solo_answers": len(solo.times["answer"]),
        "browse_pages": len(browse), "browse_p50_ms": pct(browse, 50), "browse_p95_ms": pct(browse, 95),
        "browse_p99_ms": pct(browse, 99),
        "browse_p95_ms_by_page": {w: pct(v, 95) for w, v in sorted(rec.times.items()) if w.startswith("browse_")},
        "statuses": dict(sorted(rec.statuses.items())),
        "server_errors": sum(n for k, n in rec.statuses.items() if k.rsplit(" ", 1)[1].startswith("5") or k.endswith(" 0")),
        "jobs": stored["jobs"],
        # CPU seconds of each part during the run (cpu_split.py; redis is shared), and per request what gunicorn and
        # its PostgreSQL backends spent (the Celery worker's training and refills are apart, in cpu_s)
        "cpu_s": cpu_seconds,
        "server_cpu_ms_per_request": round(1000 * (cpu_seconds.get("gunicorn", 0) + cpu_seconds.get("postgres_gunicorn", 0))
                                           / max(1, sum(rec.statuses.values())), 1),
        # 1-minute load average of the machine (2 cores, shared) before and at the end of the run: latencies depend on it
        "load_average": [round(load_before, 1), round(load_after, 1)],
        "master_error": seeded["master_error"],
        "held_by_two_examples": examples, "error_examples": rec.errors[:10],
    }
    if keep_db:
        figures["database_url"] = database_url
    else:
        _drop_database(database_url)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--curators", type=int, default=50)
    parser.add_argument("--browsers", type=int, default=20)
    parser.add_argument("--think", default="0.5,2.0", help="a curator's seconds per pair, low,high")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--no-worker", action="store_true", help="no broker: jobs run inside the request that starts them")
    parser.add_argument("--pairs", type=int, default=None, help="open pairs to seed (default: enough for the run)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--seed", help=argparse.SUPPRESS)
    parser.add_argument("--counts", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed:
        print(json.dumps(seed(**json.loads(args.seed))), flush=True)
        return
    if args.counts:
        print(json.dumps(database_counts()), flush=True)
        return
    figures = run(seconds=args.seconds, curators=args.curators, browsers=args.browsers, think=args.think, port=args.port,
                  gunicorn_workers=args.gunicorn_workers, worker=not args.no_worker, database_url=args.database_url,
                  keep_db=args.keep_db, pairs=args.pairs, progress=args.progress)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()

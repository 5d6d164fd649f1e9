"""Ingest throughput benchmark through the real service. Run by hand; prints one JSON line.

    .venv/bin/python benchmarks/ingest.py            # 1,000,000 rows
    .venv/bin/python benchmarks/ingest.py 200000
    .venv/bin/python benchmarks/ingest.py 1000000 --format json     # one JSON array (or --format jsonl)
    DATABASE_URL=sqlite:////tmp/steward-bench.sqlite3 .venv/bin/python benchmarks/ingest.py 50000

Generates a CSV of N rows x 10 columns (a string key and nine text, number, date and yes/no
columns, some empty, some quoted) in a temporary folder, creates a fresh source typed to match,
ingests the file with mastering.services.receive_table (inline), ingests it again unchanged, and
on PostgreSQL times a plain COPY of the same file into a bare table of ten text columns as the
physical reference (for CSV only; --format json or jsonl writes the same rows as JSON instead). The database defaults to postgres://postgres@127.0.0.1:5432/steward_bench,
created and migrated when missing. The source and its rows are deleted at the end.

Peak RSS is this process's own high-water mark (getrusage RUSAGE_SELF); the file is generated
in a child process so that only ingest (and Django) count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only-key-not-for-any-deployment-0123456789")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/steward_bench")
# A million rows as JSON are 225 MB, past the default upload limit, which is about requests, not speed.
os.environ.setdefault("STEWARD_MAX_UPLOAD_MB", "4000")

DEFAULT_ROWS = 1_000_000
SLICE_ROWS = 100_000
FIELDS = [
    ("id", "string"), ("first_name", "string"), ("last_name", "string"), ("email", "email"),
    ("city", "string"), ("phone", "phone"), ("birth_date", "date"), ("visits", "integer"),
    ("balance", "decimal"), ("active", "boolean"),
]
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances", "John", "Zoë",
         "Radia", "Tim", "Sophie", "Linus", "Katherine", "Dennis", "Hedy", "Niklaus", "Jean", "Ørjan", "Chloé"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson", "Allen",
        "McCarthy", "Müller", "Perlman", "Berners-Lee", "Wilson", "Torvalds", "Johnson", "Ritchie", "Lamarr",
        "Wirth", "Sammet", "O'Neil", "García Márquez"]
CITIES = ["London", "Paris", "Zürich", "New York", "Washington, D.C.", "São Paulo", "Kraków", "Oslo",
          "Springfield, IL", "Lyon", "Berlin", "Tokyo", "Nairobi", "Montréal"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]


def generate_table(path: Path, rows: int, table_format: str = "csv", *, seed: int = 7) -> None:
    """Write the table slice by slice, so the generator never holds all N rows."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, rows, SLICE_ROWS):
            frame = _slice(rng, start, min(SLICE_ROWS, rows - start))
            if table_format == "csv":
                frame.to_csv(handle, header=start == 0, index=False, lineterminator="\n")
            elif table_format == "jsonl":
                handle.write(frame.to_json(orient="records", lines=True, force_ascii=False).rstrip("\n") + "\n")
            else:  # one JSON array, its slices joined
                items = frame.to_json(orient="records", force_ascii=False)[1:-1]
                handle.write(("[" if start == 0 else ",") + items)
        if table_format == "json":
            handle.write("]")


def _slice(rng: np.random.Generator, start: int, size: int) -> pd.DataFrame:
    ids = np.arange(start, start + size)
    first = np.asarray(FIRST, dtype=object)[rng.integers(0, len(FIRST), size)]
    last = np.asarray(LAST, dtype=object)[rng.integers(0, len(LAST), size)]
    email = pd.Series(first).str.lower() + "." + pd.Series(last).str.lower().str.replace(r"[^a-z]", "", regex=True)
    email = email + ids.astype(str) + "@" + pd.Series(np.asarray(DOMAINS, dtype=object)[rng.integers(0, 3, size)])
    email[rng.random(size) < 0.05] = ""
    born = np.datetime64("1940-01-01") + rng.integers(0, 365 * 65, size).astype("timedelta64[D]")
    phone = pd.Series(rng.integers(200, 999, size).astype(str)) + " 555-" + pd.Series(
        rng.integers(1000, 9999, size).astype(str))
    return pd.DataFrame({
        "id": pd.Series(ids).map("C{:08d}".format),
        "first_name": first,
        "last_name": last,
        "email": email,
        "city": np.asarray(CITIES, dtype=object)[rng.integers(0, len(CITIES), size)],
        "phone": "+1 " + phone,
        "birth_date": pd.Series(born).dt.strftime("%Y-%m-%d"),
        "visits": rng.integers(0, 5000, size),
        "balance": pd.Series(rng.integers(-100_000, 10_000_000, size) / 100).map("{:.2f}".format),
        "active": np.where(rng.random(size) < 0.7, "yes", "no"),
    })


def ensure_database() -> None:
    """Create the PostgreSQL database named by DATABASE_URL if it does not exist yet."""
    from django.conf import settings

    config = settings.DATABASES["default"]
    if config["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg
    from psycopg import sql

    params = {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
              "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def create_bench_source():
    from mastering.services import create_source

    run = uuid.uuid4().hex[:8]
    return create_source(
        name=f"Ingest bench {run}", slug=f"bench-{run}", key_field="id", actor=None,
        fields=[{"name": name, "type": kind} for name, kind in FIELDS],
    )


def timed_ingest(source, path: Path) -> dict:
    """Send the file through the public service, inline, and report its speed and counts."""
    from mastering.models import IngestBatch
    from mastering.services import receive_table

    server_before = server_cpu_s()
    client_before = client_cpu_s()
    started = time.perf_counter()
    with open(path, "rb") as stream:
        batch = receive_table(source=source, stream=stream, file_name=path.name, user=None,
                              channel=IngestBatch.Channel.COMMAND, background=False)
    wall = time.perf_counter() - started
    if batch.status != IngestBatch.Status.SUCCEEDED:
        raise SystemExit(f"ingest did not succeed: {batch.status} {batch.error or batch.problems[:3]}")
    cpu = {"client_s": round(client_cpu_s() - client_before, 2)}
    server_after = server_cpu_s()
    if server_before is not None and server_after is not None:
        cpu["server_s"] = round(server_after - server_before, 2)
    return {"rows_per_s": round(batch.received / wall), "wall_s": round(wall, 3), "counts": batch.counts,
            "stages": batch.timings, "cpu": cpu}


def client_cpu_s() -> float:
    """CPU seconds of this process, all threads (Arrow's readers included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_cpu_s() -> float | None:
    """CPU seconds of the PostgreSQL backend serving Django's connection, when the server runs on this machine."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # a remote server
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_copy(path: Path, rows: int) -> dict | None:
    """COPY the raw file into a bare table of ten text columns: what PostgreSQL alone costs."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    table = f"bench_copy_{uuid.uuid4().hex[:8]}"
    columns = ", ".join(f'"{name}" text' for name, _ in FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} ({columns})")
    try:
        server_before = server_cpu_s()
        started = time.perf_counter()
        with connection.cursor() as cursor, open(path, "rb") as handle:
            with cursor.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
                while block := handle.read(1 << 20):
                    copy.write(block)
        wall = time.perf_counter() - started  # autocommit: the COPY has committed here
        server_after = server_cpu_s()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")
    result = {"rows_per_s": round(rows / wall), "wall_s": round(wall, 3)}
    if server_before is not None and server_after is not None:
        result["cpu"] = {"server_s": round(server_after - server_before, 2)}
    return result


def delete_bench_source(source) -> None:
    """Remove the source, its batches, records, versions and lineage, so runs do not pile up."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from lineage.models import Activity, ActivityObject
    from mastering.models import IngestBatch, Source

    batch_ids = list(IngestBatch.objects.filter(source=source).values_list("pk", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        # Plain SQL: the ORM would load a million records to cascade their versions.
        cursor.execute("DELETE FROM mastering_sourcerecordversion WHERE record_id IN "
                       "(SELECT id FROM mastering_sourcerecord WHERE source_id = %s)", [source.pk])
        cursor.execute("DELETE FROM mastering_sourcerecord WHERE source_id = %s", [source.pk])
        linked = ActivityObject.objects.filter(
            content_type__in=[ContentType.objects.get_for_model(Source), ContentType.objects.get_for_model(IngestBatch)],
            object_id__in=[str(source.pk)] + [str(pk) for pk in batch_ids],
        ).values_list("activity_id", flat=True)
        Activity.objects.filter(pk__in=list(linked)).delete()
        IngestBatch.objects.filter(pk__in=batch_ids).delete()
        source.delete()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # autocommit: VACUUM cannot run in a transaction
            cursor.execute("VACUUM ANALYZE mastering_sourcerecord")


def server_settings() -> dict | None:
    """The PostgreSQL settings that bound a bulk write, so a figure can be read against its server."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, current_setting(name) FROM pg_settings "
                       "WHERE name IN ('server_version', 'shared_buffers', 'max_wal_size', 'wal_level', 'synchronous_commit')")
        return dict(cursor.fetchall())


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ingest throughput on the configured database; prints one JSON line.")
    parser.add_argument("rows", nargs="?", default=str(DEFAULT_ROWS), help="rows to generate (default 1,000,000)")
    parser.add_argument("--format", dest="table_format", choices=["csv", "json", "jsonl"], default="csv",
                        help="a CSV file, one JSON array, or JSON lines (default csv)")
    parser.add_argument("--generate", metavar="PATH", help=argparse.SUPPRESS)  # the child process that writes the file
    arguments = parser.parse_args()
    arguments.rows = int(arguments.rows.replace("_", "").replace(",", ""))
    return arguments


def main() -> None:
    arguments = parse_arguments()
    if arguments.generate:
        generate_table(Path(arguments.generate), arguments.rows, arguments.table_format)
        return
    rows, table_format = arguments.rows, arguments.table_format
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    ensure_database()
    call_command("migrate", verbosity=0)
    with tempfile.TemporaryDirectory(prefix="steward-bench-") as folder:
        path = Path(folder) / f"bench.{table_format}"
        subprocess.run([sys.executable, __file__, str(rows), "--format", table_format, "--generate", str(path)], check=True)
        rss_before = peak_rss_mb()
        source = create_bench_source()
        try:
            first = timed_ingest(source, path)
            again = timed_ingest(source, path)
            assert first["counts"]["created"] == rows and again["counts"]["unchanged"] == rows, (first, again)
            copy = timed_copy(path, rows) if table_format == "csv" else None
        finally:
            delete_bench_source(source)
        file_mb = round(path.stat().st_size / 1e6, 1)
    print(json.dumps({
        "rows": rows,
        "format": table_format,
        "file_mb": file_mb,
        "first_load": first,
        "reingest": again,
        "copy_reference": copy,
        "ratio_to_copy": round(first["wall_s"] / copy["wall_s"], 2) if copy else None,
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_before_ingest_mb": rss_before,
        "database": f"{connection.vendor}:{settings.DATABASES['default']['NAME']}",
        "server": server_settings(),
    }))


if __name__ == "__main__":
    main()

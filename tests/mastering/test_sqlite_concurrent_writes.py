"""Parallel writes on the embedded default (an SQLite file) answer 2xx or 503 with Retry-After, never 500.

The server runs in its own process on a file database of its own, as `make run` starts it, so every
request thread has its own SQLite connection and the file's write lock is really contended.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS_PER_BATCH = 1500

SETUP = """
from rest_framework.authtoken.models import Token
from accounts.services import create_user
from tests.factories import source_with_fields
user = create_user(username="erin", password="correct-horse-battery", role="data engineer")
print("TOKEN", Token.objects.create(user=user).key)
for slug in ("alpha", "beta"):
    source_with_fields(slug, key="id", name="string!", city="string", born="date")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    """A runserver on a fresh SQLite file, with a data engineer's token and two sources (alpha, beta)."""
    data = tmp_path_factory.mktemp("sqlite-server")
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    env.update({"STEWARD_DATA_DIR": str(data), "DEBUG": "true", "AXES_ENABLED": "false", "STEWARD_HTTPS": "false",
                "ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SETTINGS_MODULE": "steward.settings",
                "SQLITE_BUSY_TIMEOUT": "8"})
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    setup = subprocess.run([*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    token = next(line.split()[1] for line in setup.stdout.splitlines() if line.startswith("TOKEN "))
    port = _free_port()
    log = open(data / "server.log", "w")
    server = subprocess.Popen([*manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # answering, if not healthy (no broker in the embedded default)
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"runserver did not start:\n{(data / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
    yield {"base": base, "token": token, "env": env, "data": data}
    server.terminate()
    server.wait(timeout=20)
    log.close()


def _send(server, method: str, path: str, body) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        server["base"] + path, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {server['token']}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        text = error.read()
        try:
            payload = json.loads(text)
        except ValueError:
            payload = {"body": text[:300].decode(errors="replace")}
        return error.code, dict(error.headers), payload


def _batch(prefix: str) -> list[dict]:
    return [{"id": f"{prefix}-{n}", "name": f"Person {n} of {prefix}", "city": "Lyon", "born": "1990-01-31"}
            for n in range(ROWS_PER_BATCH)]


def _stored_keys(server, slug: str) -> set[str]:
    with closing(sqlite3.connect(server["data"] / "steward.sqlite3", timeout=30)) as db:
        rows = db.execute("SELECT r.key FROM mastering_sourcerecord r JOIN mastering_source s ON s.id = r.source_id "
                          "WHERE s.slug = ?", [slug]).fetchall()
    return {key for (key,) in rows}


def _check_answers(answers: list[tuple[int, dict, dict]]) -> None:
    for code, headers, payload in answers:
        assert code < 300 or code == 503, (code, payload)
        if code == 503:
            assert headers.get("Retry-After"), headers
            assert "busy" in payload["detail"].lower() or "try again" in payload["detail"].lower(), payload


def test_parallel_batches_and_puts_on_sqlite_answer_2xx_or_503_and_lose_nothing(sqlite_server):
    jobs = [("POST", "/api/sources/alpha/batches/", _batch(f"a{i}")) for i in range(6)]
    jobs += [("POST", "/api/sources/beta/batches/", _batch(f"b{i}")) for i in range(3)]
    jobs += [("PUT", f"/api/sources/{slug}/records/p{i}/", {"data": {"name": f"Streamed {i}", "born": "1980-05-01"}})
             for i in range(8) for slug in ("alpha", "beta")]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(lambda job: _send(sqlite_server, *job), jobs))
    _check_answers(answers)
    for slug in ("alpha", "beta"):
        expected = set()
        for (method, path, body), (code, _, payload) in zip(jobs, answers):
            if f"/{slug}/" not in path or code >= 300:
                continue
            if method == "POST":
                assert payload["counts"]["created"] == ROWS_PER_BATCH, payload
                expected |= {row["id"] for row in body}
            else:
                expected.add(path.rstrip("/").rsplit("/", 1)[1])
        # Every accepted write is there whole; nothing refused left a row behind.
        assert _stored_keys(sqlite_server, slug) == expected
    assert sum(code < 300 for code, _, _ in answers) >= len(jobs) // 2, [code for code, _, _ in answers]


def test_writes_that_wait_out_the_lock_answer_503_with_retry_after_and_write_nothing(sqlite_server):
    holder = sqlite3.connect(sqlite_server["data"] / "steward.sqlite3", timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # someone else's long write
    try:
        started = time.monotonic()
        put = _send(sqlite_server, "PUT", "/api/sources/beta/records/held/", {"data": {"name": "Held"}})
        put_seconds = time.monotonic() - started
        batch = _send(sqlite_server, "POST", "/api/sources/beta/batches/", _batch("held"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for code, headers, payload in (put, batch):
        assert code == 503, (code, payload)
        assert headers["Retry-After"] == "5"
        assert payload["detail"] == "Steward's database is busy with another write. Try again in a few seconds."
    assert 4 < put_seconds < 8  # a streamed record waits 5 seconds, not the 8 the server allows batches
    assert not {key for key in _stored_keys(sqlite_server, "beta") if key.startswith("held")}
    again = _send(sqlite_server, "PUT", "/api/sources/beta/records/held/", {"data": {"name": "Held"}})
    assert again[0] == 200 and again[2]["version"] == 1

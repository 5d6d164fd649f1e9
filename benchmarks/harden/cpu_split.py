"""Where the CPU of a load run goes: seconds per part (client, gunicorn, Celery, PostgreSQL backends, Redis, machine).

The client shares the machine's cores with the server, so a run's latencies depend on what every part burns. A
thread samples /proc twice a second and keeps each process's last utime + stime; a process that ends between two
samples loses at most its last half second. PostgreSQL backends are counted by their database name in the process
title ("postgres: user dbname host(port) ..."), so other sessions' backends on the same server are left out, and
split by the application name their client gave (PGAPPNAME: load.py names gunicorn's and Celery's); Redis is one
shared server, so its figure includes whatever else uses it.
"""

from __future__ import annotations

import os
import resource
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15 of stat)
    except (OSError, IndexError, ValueError):
        return None


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _machine_busy() -> float:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICK  # all but idle and iowait


class CpuSplit:
    """Start, then stop: CPU seconds per part over the interval."""

    def __init__(self, *, roots: dict[str, int | None], database: str, interval: float = 0.5, database_url: str = ""):
        self.roots = {name: pid for name, pid in roots.items() if pid}
        self.database = database.encode()
        self.interval = interval
        self.database_url = database_url
        self.app_names: dict[int, str] = {}
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _processes(self) -> list[tuple[str, int]]:
        tree = _children()
        found = []
        for name, root in self.roots.items():
            stack = [root]
            while stack:
                pid = stack.pop()
                found.append((name, pid))
                stack.extend(tree.get(pid, []))
        for pid in [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]:
            line = _cmdline(pid)
            if line.startswith(b"postgres: ") and self.database in line.split()[1:4]:
                found.append((self._backend(pid), pid))
            elif b"redis-server" in line.split(b"\0", 1)[0]:
                found.append(("redis", pid))
        return found

    def _backend(self, pid: int) -> str:
        """postgres_<application name> of a backend process (plain postgres when it has none or cannot be asked)."""
        if pid not in self.app_names and self.database_url:
            import psycopg

            try:
                with psycopg.connect(self.database_url, autocommit=True, application_name="cpu_split") as conn:
                    self.app_names.update(conn.execute("SELECT pid, application_name FROM pg_stat_activity").fetchall())
            except psycopg.Error:
                pass
            self.app_names.setdefault(pid, "")  # asked once per backend
        name = self.app_names.get(pid, "")
        return f"postgres_{name}" if name else "postgres"

    def _sample(self, initial: bool) -> None:
        for key in self._processes():
            value = _cpu(key[1])
            if value is None:
                continue
            if key not in self.first:
                self.first[key] = value if initial else 0.0  # a process born during the run counts from 0
            self.last[key] = value

    def _loop(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._sample(initial=False)

    def start(self) -> CpuSplit:
        self.client_start = resource.getrusage(resource.RUSAGE_SELF)
        self.machine_start, self.wall_start = _machine_busy(), time.time()
        self._sample(initial=True)
        self.thread.start()
        return self

    def stop(self) -> dict:
        self.stop_event.set()
        self.thread.join()
        self._sample(initial=False)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        split: dict[str, float] = {"client": usage.ru_utime + usage.ru_stime - self.client_start.ru_utime - self.client_start.ru_stime}
        for (name, _), value in self.last.items():
            split[name] = split.get(name, 0.0) + value - self.first[(name, _)]
        split["postgres"] = sum(v for k, v in split.items() if k.startswith("postgres"))
        split = {name: round(seconds, 1) for name, seconds in split.items()}
        split["machine"] = round(_machine_busy() - self.machine_start, 1)
        split["wall"] = round(time.time() - self.wall_start, 1)
        return split

"""Kill the Celery worker mid-run, start a new one, and count what did not recover (benchmarks/kill_worker.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

TARGETS = {
    "kill_worker_runs": (">=", 10),
    "stuck_jobs": ("==", 0),
    "duplicated_entities": ("==", 0),
}


def run(*, runs: int = int(os.environ.get("HARDEN_KILL_RUNS", 10))) -> dict:
    """Runs in its own PostgreSQL database and Celery queue; the script's JSON line is the figures."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kill_worker.py"), "--runs", str(runs)],
                          cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"kill_worker.py exited with {done.returncode}", "output": done.stdout[-2000:]}
    return json.loads(lines[-1])

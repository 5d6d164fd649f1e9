"""Run the hardening probes and print ONE JSON line of figures; exit 1 if any figure misses its target.

    python benchmarks/harden/run.py                          # every part
    python benchmarks/harden/run.py --parts access,schema    # some parts
    make harden PARTS=access,schema,browser

A part is a module benchmarks/harden/<name>.py with `run() -> dict` (its figures) and, optionally, `TARGETS`, a dict
of figure -> (op, target) where op is one of == <= >= and target is a number or the name of another figure.
Django is set up (settings, no broker) before `run()` is called; the part makes its own throwaway database.
Each part runs in its own process (its own throwaway database, a time limit), and its figures are merged into
the line as "<part>.<figure>". A part that crashes or overruns is reported in "failed_parts" with its error;
it is never left out. "missed" lists every figure off its target.
"""

from __future__ import annotations

import argparse
import importlib
import json
import operator
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARTS = ["access", "schema", "browser", "corpus", "killworker", "load"]  # the order of a full run; add new parts here
# Seconds a part may take unless --timeout says otherwise: the corpus sends 372 files down 8 paths, the kill test
# starts 20 workers, the load test seeds, trains and masters before its 2 minutes.
PART_TIMEOUTS = {"corpus": 3600, "killworker": 1800, "load": 1200}
OPS = {"==": operator.eq, "<=": operator.le, ">=": operator.ge}
RESULT_MARK = "HARDEN-RESULT "


def _child(part: str) -> None:
    """Run one part in this process and print its figures after a marker line."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.harden.testdb import setup_django

    setup_django()
    module = importlib.import_module(f"benchmarks.harden.{part}")
    figures = module.run()
    print(RESULT_MARK + json.dumps(figures, default=str), flush=True)


def run_part(part: str, timeout: float) -> tuple[dict, str | None, float]:
    """Figures of one part, or the reason it failed, and how long it took."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    try:
        done = subprocess.run([sys.executable, "-m", "benchmarks.harden.run", "--child", part], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}, f"timed out after {timeout:.0f} s", time.monotonic() - started
    seconds = time.monotonic() - started
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):]), None, seconds
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {}, f"exit {done.returncode}: {' | '.join(tail)[-400:]}", seconds


def missed_targets(part: str, figures: dict, targets: dict) -> list[str]:
    misses = []
    for name, (op, target) in targets.items():
        value = figures.get(name)
        wanted = figures.get(target) if isinstance(target, str) else target
        if value is None or wanted is None or not OPS[op](value, wanted):
            misses.append(f"{part}.{name}={value} (target {op} {target if not isinstance(target, str) else f'{target}={wanted}'})")
    return misses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated part names (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=os.environ.get("HARDEN_PART_TIMEOUT"),
                        help="seconds any one part may take (default: 420, more for corpus, killworker and load)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child)
        return 0

    sys.path.insert(0, str(ROOT))
    line: dict = {"parts": [], "failed_parts": {}, "missed": []}
    for part in [p.strip() for p in args.parts.split(",") if p.strip()]:
        line["parts"].append(part)
        try:
            targets = getattr(importlib.import_module(f"benchmarks.harden.{part}"), "TARGETS", {})
        except Exception as exc:  # an unknown or broken part is a failure to report, not to skip
            line["failed_parts"][part] = f"cannot load: {type(exc).__name__}: {exc}"
            continue
        figures, error, seconds = run_part(part, float(args.timeout or PART_TIMEOUTS.get(part, 420)))
        line[f"{part}.seconds"] = round(seconds, 1)
        for name, value in figures.items():
            line[f"{part}.{name}"] = value
        if error:
            line["failed_parts"][part] = error
        else:
            line["missed"] += missed_targets(part, figures, targets)
    line["ok"] = not line["failed_parts"] and not line["missed"]
    print(json.dumps(line, default=str), flush=True)
    return 0 if line["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

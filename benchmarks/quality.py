"""Matching quality against plain dedupe, on every shared data set: `make bench-quality`.

    .venv/bin/python benchmarks/quality.py                      # every set, seeds 1-3, 20/50/100/200 labels (hours)
    .venv/bin/python benchmarks/quality.py --quick              # seed 1, 50 and 100 labels
    .venv/bin/python benchmarks/quality.py --sets febrl1,rldata500 --seeds 1,2 --out /tmp/quality.json

Each (set, seed) is one `manage.py benchmark_matching --baseline dedupe --checkpoints ...` subprocess:
Steward (simulated curator answering from the truth through the queue) and then plain dedupe (same
records, attributes, truth and label budgets) are measured in the same run, one JSON line per label
budget. Runs go two at a time (the reference machine has two cores), each with its own SQLite
database and a timeout. The medians per set and budget are printed as a markdown table, and every
raw line plus the medians are written as JSON (default benchmarks/results/quality-<date>.json).

The shared data sets are read from ../shared/datasets next to the repository (or /work/shared/datasets,
or --datasets); the synthetic people are made with ../shared/tools/synth_people.py into a temporary
folder, with data seed 1, so every run seed sees the same records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASET_FOLDERS = [ROOT.parent / "shared" / "datasets", Path("/work/shared/datasets")]
DEFAULT_BUDGETS = [20, 50, 100, 200]
QUICK_BUDGETS = [50, 100]
DEFAULT_TIMEOUT_S = 3 * 3600


@dataclass(frozen=True)
class BenchSet:
    name: str
    kind: str  # "dedup", "link" or "synthetic" (a dedup set made by synth_people.py)
    folder: str = ""
    fields: str = ""
    na_values: str = ""
    synth: tuple[str, ...] = ()
    register: bool = False  # keep names and birth-date parts only (benchmarks/register.py)
    note: str = ""


SETS = [
    BenchSet("febrl1", "dedup", "febrl1"),
    BenchSet("febrl2", "dedup", "febrl2"),
    BenchSet("febrl3", "dedup", "febrl3"),
    BenchSet("febrl4", "link", "febrl4"),
    BenchSet("dblp_acm", "link", "dblp_acm"),
    BenchSet("dedupe_csv_example", "dedup", "dedupe_csv_example", fields="Site name,Address,Zip,Phone",
             note="fields Site name, Address, Zip, Phone only, as dedupe's own csv_example trains on"),
    BenchSet("abt_buy", "link", "abt_buy", note="the right table's manufacturer is an attribute of its own"),
    BenchSet("rldata500", "dedup", "rldata500", na_values="NA", note="NA cells are missing values"),
    BenchSet("synth_5000_heavy", "synthetic", synth=("5000", "--heavy-tail", "--dup-rate", "0.3"),
             note="synth_people.py 5000 --heavy-tail --dup-rate 0.3 --seed 1"),
    BenchSet("synth_10000", "synthetic", synth=("10000", "--dup-rate", "0.1"), note="synth_people.py 10000 --dup-rate 0.1 --seed 1"),
    BenchSet("synth_register_10000", "synthetic", synth=("10000", "--dup-rate", "0.1"), register=True,
             note="synth_people.py 10000 --dup-rate 0.1 --seed 1, then register.py: fname, lname, by, bm, bd only"),
    BenchSet("synth_50000", "synthetic", synth=("50000", "--dup-rate", "0.1"), note="synth_people.py 50000 --dup-rate 0.1 --seed 1"),
]
BY_NAME = {s.name: s for s in SETS}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="", help=f"Comma-separated set names (default: all): {', '.join(BY_NAME)}.")
    parser.add_argument("--seeds", default="", help="Comma-separated run seeds (default 1,2,3; 1 with --quick).")
    parser.add_argument("--budgets", default="", help="Comma-separated label budgets (default 20,50,100,200; 50,100 with --quick).")
    parser.add_argument("--quick", action="store_true", help="Seed 1 with 50 and 100 labels only.")
    parser.add_argument("--jobs", type=int, default=2, help="Runs at a time (default 2).")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="Seconds one run (set and seed) may take.")
    parser.add_argument("--datasets", type=Path, default=None, help="The shared datasets folder.")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for every raw line and the medians.")
    args = parser.parse_args()
    args.set_list = [s.strip() for s in args.sets.split(",") if s.strip()] or list(BY_NAME)
    unknown = [s for s in args.set_list if s not in BY_NAME]
    if unknown:
        parser.error(f"unknown set {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
    args.seed_list = _ints(parser, args.seeds) or ([1] if args.quick else [1, 2, 3])
    args.budget_list = sorted(set(_ints(parser, args.budgets) or (QUICK_BUDGETS if args.quick else DEFAULT_BUDGETS)))
    if args.jobs < 1:
        parser.error("--jobs must be 1 or more")
    return args


def _ints(parser: argparse.ArgumentParser, text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        parser.error(f"not a comma-separated list of whole numbers: {text!r}")


def find_datasets(given: Path | None) -> Path:
    candidates = [given] if given else DATASET_FOLDERS
    for folder in candidates:
        if folder and (folder / "febrl1").is_dir():
            return folder
    tried = ", ".join(str(c) for c in candidates)
    raise SystemExit(
        f"bench-quality: the shared datasets folder is missing (looked in {tried}). It is the folder holding febrl1-4, "
        "dblp_acm, dedupe_csv_example, abt_buy and rldata500, with tools/synth_people.py beside it; pass --datasets PATH."
    )


def command_for(bench: BenchSet, datasets: Path, synthetic: dict[str, Path], seed: int, budgets: list[int]) -> list[str]:
    command = [sys.executable, str(ROOT / "manage.py"), "benchmark_matching", "--seed", str(seed), "--labels", str(max(budgets)),
               "--checkpoints", ",".join(map(str, budgets)), "--baseline", "dedupe"]
    if bench.kind == "link":
        folder = datasets / bench.folder
        command += ["--left", str(folder / "left.csv"), "--right", str(folder / "right.csv"), "--truth", str(folder / "truth.csv")]
    else:
        path = synthetic[bench.name] if bench.kind == "synthetic" else datasets / bench.folder / "data.csv"
        command += ["--input", str(path), "--id-column", "record_id", "--truth-column", "true_cluster_id"]
    if bench.fields:
        command += ["--fields", bench.fields]
    if bench.na_values:
        command += ["--na-values", bench.na_values]
    return command


def make_synthetic(benches: list[BenchSet], datasets: Path, folder: Path) -> dict[str, Path]:
    tool = datasets.parent / "tools" / "synth_people.py"
    made = {}
    for bench in benches:
        if bench.kind != "synthetic":
            continue
        if not tool.is_file():
            raise SystemExit(f"bench-quality: {tool} is missing; it makes the synthetic sets ({bench.name}).")
        path = folder / f"{bench.name}.csv"
        people = folder / f"{bench.name}.people.csv" if bench.register else path
        subprocess.run([sys.executable, str(tool), *bench.synth[:1], str(people), *bench.synth[1:], "--seed", "1"],
                       check=True, stdout=subprocess.DEVNULL)
        if bench.register:
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / "register.py"), str(people), str(path)], check=True)
        made[bench.name] = path
    return made


def run_one(bench: BenchSet, seed: int, command: list[str], folder: Path, timeout: float) -> list[dict]:
    """One subprocess; its JSON lines, or one line saying why there are none."""
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": f"sqlite:///{folder / f'{bench.name}-{seed}.sqlite3'}"}
    started = time.perf_counter()
    # A session of its own, so a timeout ends the run's whole process group (the baseline runs in a child).
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return [{"set": bench.name, "seed": seed, "error": f"timed out after {timeout:.0f} s"}]
    lines = []
    for text in out.splitlines():
        if text.startswith("{"):
            lines.append({"set": bench.name, **json.loads(text)})
    if process.returncode != 0 or not lines:
        tail = "\n".join(err.strip().splitlines()[-15:])
        return lines + [{"set": bench.name, "seed": seed, "error": f"exit code {process.returncode}: {tail}",
                         "seconds": round(time.perf_counter() - started, 1)}]
    return lines


def _median(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 4) if present else None


def medians(lines: list[dict], benches: list[BenchSet], budgets: list[int]) -> list[dict]:
    rows = []
    for bench in benches:
        for budget in budgets:
            runs = [line for line in lines if line.get("set") == bench.name and line.get("budget") == budget and "f1" in line]
            if not runs:
                continue
            base = [line.get("baseline") or {} for line in runs]
            rows.append({
                "set": bench.name, "budget": budget, "runs": len(runs),
                "f1": _median([r["f1"] for r in runs]), "baseline_f1": _median([b.get("f1") for b in base]),
                "ratio": _median([r.get("ratio") for r in runs]),
                "precision": _median([r["precision"] for r in runs]), "estimated_precision": _median([r.get("estimated_precision") for r in runs]),
                "recall": _median([r["recall"] for r in runs]), "estimated_recall": _median([r.get("estimated_recall") for r in runs]),
                "baseline_precision": _median([b.get("precision") for b in base]), "baseline_recall": _median([b.get("recall") for b in base]),
                "total_s": _median([r.get("total_s") for r in runs]), "baseline_s": _median([b.get("seconds") for b in base]),
                "peak_rss_mb": _median([r.get("peak_rss_mb") for r in runs]), "baseline_peak_rss_mb": _median([b.get("peak_rss_mb") for b in base]),
                "baseline_notes": sorted({b["note"] for b in base if b.get("note")} | {b["error"] for b in base if b.get("error")}),
            })
    return rows


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table(rows: list[dict], benches: list[BenchSet], failures: list[dict]) -> str:
    out = [
        "| set | labels | runs | Steward F1 | dedupe F1 | ratio | Steward precision est. / true | Steward recall est. / true "
        "| dedupe P / R | seconds Steward / dedupe | peak MB Steward / dedupe |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        out.append(
            f"| {r['set']} | {r['budget']} | {r['runs']} | {_fmt(r['f1'])} | {_fmt(r['baseline_f1'])} | {_fmt(r['ratio'], 2)} "
            f"| {_fmt(r['estimated_precision'])} / {_fmt(r['precision'])} | {_fmt(r['estimated_recall'])} / {_fmt(r['recall'])} "
            f"| {_fmt(r['baseline_precision'])} / {_fmt(r['baseline_recall'])} | {_fmt(r['total_s'], 0)} / {_fmt(r['baseline_s'], 0)} "
            f"| {_fmt(r['peak_rss_mb'], 0)} / {_fmt(r['baseline_peak_rss_mb'], 0)} |"
        )
    notes = [f"- {b.name}: {b.note}" for b in benches if b.note]
    notes += [f"- {r['set']} at {r['budget']} labels, dedupe: {'; '.join(r['baseline_notes'])}" for r in rows if r["baseline_notes"]]
    notes += [f"- {f['set']} seed {f['seed']} failed: {f['error'].splitlines()[-1] if f['error'] else ''}" for f in failures]
    explain = ("Medians over seeds. ratio = Steward F1 / dedupe F1 per run (none when dedupe's F1 is 0). Pairwise scores; "
               "link sets count cross-table pairs only. Steward's precision and recall estimates are its own, from its labels; "
               "seconds are the whole run for Steward (load, label, train, master at every budget so far) and "
               "prepare + label + train + match at this budget for dedupe.")
    return "\n".join(out + ["", explain] + (["", "Notes:", *notes] if notes else []))


def main() -> None:
    args = arguments()
    datasets = find_datasets(args.datasets)
    benches = [BY_NAME[name] for name in args.set_list]
    out_path = args.out or ROOT / "benchmarks" / "results" / f"quality-{dt.date.today().isoformat()}.json"
    started = dt.datetime.now(dt.timezone.utc)
    lines: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="steward-quality-") as temp:
        folder = Path(temp)
        synthetic = make_synthetic(benches, datasets, folder)
        jobs = [(bench, seed) for seed in args.seed_list for bench in benches]
        print(f"bench-quality: {len(jobs)} runs ({len(benches)} sets x {len(args.seed_list)} seeds), budgets "
              f"{', '.join(map(str, args.budget_list))}, {args.jobs} at a time, timeout {args.timeout:.0f} s each", file=sys.stderr)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(run_one, bench, seed, command_for(bench, datasets, synthetic, seed, args.budget_list), folder, args.timeout):
                (bench, seed) for bench, seed in jobs
            }
            for done, future in enumerate(as_completed(futures), 1):
                bench, seed = futures[future]
                result = future.result()
                lines.extend(result)
                summary = ", ".join(f"{r['budget']}: {r['f1']} vs {(r.get('baseline') or {}).get('f1')}" for r in result if "f1" in r)
                errors = "; ".join(r["error"].splitlines()[0] for r in result if "error" in r)
                print(f"[{done}/{len(jobs)}] {bench.name} seed {seed}: {summary or errors}", file=sys.stderr)
                # Written after every run, so an interrupted session keeps what finished.
                write_results(out_path, args, benches, started, lines, finished=done == len(jobs))
    rows = write_results(out_path, args, benches, started, lines, finished=True)
    failures = [line for line in lines if "error" in line]
    print(table(rows, benches, failures))
    print(f"\nRaw lines and medians: {out_path}", file=sys.stderr)
    if failures:
        sys.exit(1)


def write_results(out_path: Path, args: argparse.Namespace, benches: list[BenchSet], started: dt.datetime,
                  lines: list[dict], finished: bool) -> list[dict]:
    rows = medians(lines, benches, args.budget_list)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds") if finished else None,
        "sets": {b.name: {"kind": b.kind, "note": b.note} for b in benches}, "seeds": args.seed_list, "budgets": args.budget_list,
        "timeout_s": args.timeout, "medians": rows, "runs": lines,
    }, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()

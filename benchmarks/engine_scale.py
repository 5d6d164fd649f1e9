"""Scale benchmark for mastering.engine on synthetic people. Run by hand; prints one JSON line.

    python benchmarks/engine_scale.py 100000 --seed 1 --workers 2
    python benchmarks/engine_scale.py 1000000 --seed 1 --workers 2

Generates N Febrl-style records with /work/shared/tools/synth_people.py (--data-seed 42, cached under
/tmp), trains with 50 simulated labels, then times each stage of a full mastering run: fingerprinting
(block keys), pair generation with a block-size cap (in Python here; the app joins in SQL), scoring and
clustering. Reports pairs compared in total and per predicate, peak RSS and pairwise F1.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine_accuracy import (  # noqa: E402
    FEBRL,
    SPECS,
    Dataset,
    add_training_arguments,
    pairwise_quality,
    peak_rss_mb,
    simulate_training,
    true_pairs,
)

from mastering.engine import Matcher, candidate_pairs, cluster_pairs  # noqa: E402

SYNTH = Path(__file__).resolve().parents[2] / "shared" / "tools" / "synth_people.py"
if not SYNTH.exists():
    SYNTH = Path("/work/shared/tools/synth_people.py")


def load_synthetic(n: int, data_seed: int) -> Dataset:
    """Generate (or reuse) the synthetic file and read it as int-keyed records."""
    path = Path(f"/tmp/steward-synth-{n}-{data_seed}.csv")
    if not path.exists():
        subprocess.run([sys.executable, str(SYNTH), str(n), str(path), "--seed", str(data_seed)], check=True)
    records, cluster_of = {}, {}
    with open(path, encoding="utf-8", newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            records[i] = {f: (row[f] or None) for f in FEBRL}
            cluster_of[i] = row["true_cluster_id"]
    return Dataset(records, cluster_of, None, FEBRL)


def run(args: argparse.Namespace) -> dict[str, object]:
    """Train on a sample, then block, score and cluster all N records, timing each stage."""
    load_started = time.perf_counter()
    data = load_synthetic(args.n, args.data_seed)
    load_seconds = time.perf_counter() - load_started
    specs = list(SPECS["febrl"])
    args.dataset = f"synth_people_{args.n}"
    trained = simulate_training(args, data, specs)
    model = trained["model"]
    stages: dict[str, float] = {}

    started = time.perf_counter()
    matcher = Matcher.from_settings(model.settings, num_workers=args.workers)
    prepared = matcher.prepare(data.records)
    data.records.clear()  # raw values are not needed any more; at 1M records they weigh over 1 GB
    stages["prepare"] = time.perf_counter() - started

    mark = time.perf_counter()
    keys = matcher.blocking_keys(prepared, prepared=True)
    if not args.stream_keys:
        keys = list(keys)
        stages["fingerprint"] = time.perf_counter() - mark
        mark = time.perf_counter()
    candidates = candidate_pairs(keys, max_block_size=args.max_block_size, pair_budget=matcher.pair_budget(len(prepared)),
                                 predicate_names=matcher.predicates())
    del keys
    stages["pairs" if not args.stream_keys else "fingerprint_and_pairs"] = time.perf_counter() - mark

    mark = time.perf_counter()
    scored = list(matcher.score(candidates.pairs, prepared, prepared=True))
    stages["score"] = time.perf_counter() - mark

    mark = time.perf_counter()
    threshold = args.threshold if args.threshold is not None else matcher.threshold
    clusters = cluster_pairs(scored, threshold=threshold)
    stages["cluster"] = time.perf_counter() - mark
    match_seconds = time.perf_counter() - started

    truth = true_pairs(data)
    blocked = set(map(tuple, candidates.pairs.tolist()))
    return {
        "records": args.n, "seed": args.seed, "labels": len(trained["labels"]),
        "matches_labelled": sum(lb.match for lb in trained["labels"]),
        **pairwise_quality(clusters, data),
        "blocking_recall": round(len(blocked & truth) / len(truth), 4),
        "true_pairs": len(truth), "pairs_compared": len(candidates),
        "pairs_per_predicate": {r.name: {"pairs": r.pairs, "new": r.new_pairs, "capped_blocks": r.capped_blocks}
                                for r in candidates.per_predicate},
        "max_block_size": args.max_block_size, "workers": args.workers,
        "load_seconds": round(load_seconds, 2),
        "train_seconds": round(trained["train_seconds"], 2),
        "stage_seconds": {k: round(v, 2) for k, v in stages.items()},
        "match_seconds": round(match_seconds, 2),
        "pairs_per_second": round(len(candidates) / max(stages["score"], 1e-9)),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--data-seed", type=int, default=42)
    parser.add_argument("--stream-keys", action="store_true",
                        help="feed block keys straight into pairing (less memory; one timing for both stages)")
    add_training_arguments(parser)
    parser.set_defaults(labels=50, workers=2)
    print(json.dumps(run(parser.parse_args())), flush=True)


if __name__ == "__main__":
    main()

"""Accuracy benchmark for mastering.engine with a simulated curator. Run by hand; prints one JSON line.

    python benchmarks/engine_accuracy.py febrl3 --labels 50 --seed 1
    python benchmarks/engine_accuracy.py dblp_acm --labels 100 --seed 1
    python benchmarks/engine_accuracy.py dedupe_csv_example --labels 100 --seed 1

The curator only answers the pairs the learner asks for (plus, with --random-share, a small share
of uniformly random sample pairs), from the truth: match iff both records share a true cluster.
The model is retrained every --retrain-every labels, as the app does. Then the whole data set is
blocked (block size capped), scored and clustered, and pairwise precision/recall/F1 is reported
(for link data only cross-source pairs count, and clustering keeps one record per source).
Ids and truth are never features.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import resource
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mastering.engine import (  # noqa: E402
    ActiveLearner,
    AttributeSpec,
    LabeledPair,
    Matcher,
    candidate_pairs,
    cluster_pairs,
    draw_training_sample,
    infer_comparator,
    train_model,
)
from mastering.engine.sampling import DEFAULT_SAMPLE_SIZE  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
if not DATASETS.exists():
    DATASETS = Path("/work/shared/datasets")

FEBRL = ["given_name", "surname", "street_number", "address_1", "address_2",
         "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]
# Comparators chosen as an admin would in the app; --infer uses infer_comparator instead.
SPECS: dict[str, list[AttributeSpec]] = {
    "febrl": [AttributeSpec(f, "ShortString" if f not in ("address_1", "address_2", "suburb") else "String")
              for f in FEBRL],
    "dblp_acm": [AttributeSpec("title", "String"), AttributeSpec("authors", "String"),
                 AttributeSpec("venue", "String"), AttributeSpec("year", "Exact")],
    "dedupe_csv_example": [AttributeSpec("Site name", "String"), AttributeSpec("Address", "String"),
                           AttributeSpec("Zip", "Exact"), AttributeSpec("Phone", "ShortString")],
}


@dataclass
class Dataset:
    records: dict[int, dict[str, str | None]]
    cluster_of: dict[int, str]
    group_of: dict[int, str] | None
    fields: list[str]


def load(name: str) -> Dataset:
    """Read a dataset in the dedup or link layout into int-keyed records and truth."""
    folder = DATASETS / name
    if name.endswith(".csv") or (folder / "data.csv").exists():
        path = Path(name) if name.endswith(".csv") else folder / "data.csv"
        rows = list(csv.DictReader(open(path, encoding="utf-8", newline="")))
        hidden = {"record_id", "source", "true_cluster_id"}
        fields = [f for f in rows[0] if f not in hidden]
        records = {i: {f: (row[f] or None) for f in fields} for i, row in enumerate(rows)}
        return Dataset(records, {i: row["true_cluster_id"] for i, row in enumerate(rows)}, None, fields)
    left = list(csv.DictReader(open(folder / "left.csv", encoding="utf-8", newline="")))
    right = list(csv.DictReader(open(folder / "right.csv", encoding="utf-8", newline="")))
    fields = [f for f in left[0] if f != "id"]
    records, group_of, id_of = {}, {}, {}
    for side, rows in (("left", left), ("right", right)):
        for row in rows:
            rid = len(records)
            records[rid] = {f: (row[f] or None) for f in fields}
            group_of[rid], id_of[(side, row["id"])] = side, rid
    parent = {rid: rid for rid in records}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in csv.DictReader(open(folder / "truth.csv", encoding="utf-8", newline="")):
        a, b = id_of.get(("left", row["left_id"])), id_of.get(("right", row["right_id"]))
        if a is not None and b is not None:
            parent[find(a)] = find(b)
    return Dataset(records, {rid: str(find(rid)) for rid in records}, group_of, fields)


def true_pairs(data: Dataset) -> set[tuple[int, int]]:
    """All same-cluster pairs (cross-source only for link data)."""
    members: dict[str, list[int]] = defaultdict(list)
    for rid, cluster in data.cluster_of.items():
        members[cluster].append(rid)
    out = set()
    for ids in members.values():
        for a, b in itertools.combinations(sorted(ids), 2):
            if data.group_of is None or data.group_of[a] != data.group_of[b]:
                out.add((a, b))
    return out


def choose_specs(args: argparse.Namespace, data: Dataset) -> list[AttributeSpec]:
    """The attributes to match on: the dataset's preset, or inferred, with --spec overrides."""
    preset_name = "febrl" if Path(args.dataset).stem.startswith(("febrl", "synth", "ht")) else args.dataset
    if args.fields:
        fields = args.fields.split(",")
    elif preset_name in SPECS:
        fields = [s.name for s in SPECS[preset_name]]
    else:
        fields = data.fields
    if args.infer or preset_name not in SPECS:
        specs = [AttributeSpec(f, infer_comparator([r[f] for r in data.records.values()])) for f in fields]
    else:
        preset = {s.name: s for s in SPECS[preset_name]}
        specs = [preset[f] for f in fields]
    overrides = dict(item.split("=", 1) for item in args.spec)
    return [AttributeSpec(s.name, overrides.get(s.name, s.comparator)) for s in specs]


def simulate_training(args: argparse.Namespace, data: Dataset, specs: list[AttributeSpec]) -> dict[str, object]:
    """Build the learner, answer its questions from the truth, retrain every few labels."""
    started = time.perf_counter()
    by_group: dict[str, list[int]] = defaultdict(list)
    for rid in data.records:
        by_group[data.group_of[rid] if data.group_of else ""].append(rid)
    sample_ids = draw_training_sample(by_group, size=args.sample_size, seed=args.seed)
    learner = ActiveLearner(specs, {rid: data.records[rid] for rid in sample_ids}, seed=args.seed,
                            group_of=data.group_of, population=len(data.records))
    build_seconds = time.perf_counter() - started
    rng = random.Random(args.seed)
    labels: list[LabeledPair] = []
    trainings = 0
    model = None
    pending: list[tuple[int, int]] = []
    while len(labels) < args.labels:
        if args.random_share and rng.random() < args.random_share:
            pair = _random_pair(rng, sample_ids, data.group_of)
        else:
            # The app's queue hands out --batch questions between refits of the learner.
            pending = pending or learner.uncertain_pairs(args.batch)
            if not pending:
                break
            pair = pending.pop(0)
        label = LabeledPair(pair[0], pair[1], data.cluster_of[pair[0]] == data.cluster_of[pair[1]])
        labels.append(label)
        if not pending:
            learner.mark([lb for lb in labels if lb.key not in {x.key for x in learner.labels}])
        both_answers = any(lb.match for lb in labels) and not all(lb.match for lb in labels)
        if len(labels) % args.retrain_every == 0 and both_answers:
            model = train_model(specs=specs, labels=labels, records=data.records, seed=args.seed,
                                learner=learner, recall=args.recall)
            trainings += 1
    if model is None or model.metrics["labels"] != len({lb.key for lb in labels}):
        model = train_model(specs=specs, labels=labels, records=data.records, seed=args.seed,
                            learner=learner, recall=args.recall)
    return {"model": model, "labels": labels, "trainings": trainings, "sample_size": len(sample_ids),
            "learner_build_seconds": build_seconds, "train_seconds": time.perf_counter() - started}


def pairwise_quality(clusters: list, data: Dataset) -> dict[str, float]:
    """Pairwise precision, recall and F1 of clusters against the truth."""
    found = set()
    for cluster in clusters:
        for a, b in itertools.combinations(cluster.record_ids, 2):
            if data.group_of is None or data.group_of[a] != data.group_of[b]:
                found.add((a, b))
    truth = true_pairs(data)
    tp = len(found & truth)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(truth) if truth else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def peak_rss_mb() -> float:
    """Peak resident memory of this process plus its largest finished child, in MB."""
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(usage / 1024, 1)


def run(args: argparse.Namespace) -> dict[str, object]:
    """Simulate labelling, train, match the whole data set and score the result."""
    data = load(args.dataset)
    specs = choose_specs(args, data)
    started = time.perf_counter()
    trained = simulate_training(args, data, specs)
    model = trained["model"]
    labels = trained["labels"]

    match_started = time.perf_counter()
    matcher = Matcher.from_settings(model.settings, num_workers=args.workers)
    keys = matcher.blocking_keys(data.records)
    candidates = candidate_pairs(keys, max_block_size=args.max_block_size, group_of=data.group_of,
                                 pair_budget=matcher.pair_budget(len(data.records)),
                                 predicate_names=matcher.predicates())
    neighbours = matcher.neighbour_pairs(data.records, group_of=data.group_of)
    pairs = numpy.unique(numpy.concatenate([candidates.pairs, numpy.array(neighbours, dtype=numpy.int64).reshape(-1, 2)]), axis=0)
    scored = list(matcher.score(pairs, data.records))
    threshold = args.threshold if args.threshold is not None else matcher.threshold
    clusters = cluster_pairs(scored, threshold=threshold, group_of=data.group_of)
    match_seconds = time.perf_counter() - match_started

    truth = true_pairs(data)
    blocked = {(int(a), int(b)) for a, b in pairs}
    return {
        "dataset": args.dataset, "seed": args.seed, "labels": len(labels),
        "matches_labelled": sum(lb.match for lb in labels), "trainings": trained["trainings"],
        **pairwise_quality(clusters, data),
        "blocking_recall": round(len(blocked & truth) / len(truth), 4),
        "pairs_scored": len(pairs), "neighbour_pairs": len(neighbours), "predicates": model.predicates, "estimated": model.quality,
        "threshold": threshold, "max_block_size": args.max_block_size, "sample_size": trained["sample_size"],
        "learner_build_seconds": round(trained["learner_build_seconds"], 2),
        "train_seconds": round(trained["train_seconds"], 2), "match_seconds": round(match_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": peak_rss_mb(),
        "specs": {s.name: s.comparator for s in specs},
    }


def _random_pair(rng: random.Random, ids: list[int], group_of: dict[int, str] | None) -> tuple[int, int]:
    while True:
        a, b = rng.sample(ids, 2)
        if group_of is None or group_of[a] != group_of[b]:
            return (a, b) if a < b else (b, a)


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared with engine_scale.py."""
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fields", default="")
    parser.add_argument("--infer", action="store_true", help="choose comparators with infer_comparator")
    parser.add_argument("--spec", action="append", default=[], help="override a comparator: name=Comparator")
    parser.add_argument("--sample-size", type=int, default=DEFAULT_SAMPLE_SIZE)
    parser.add_argument("--retrain-every", type=int, default=10)
    parser.add_argument("--random-share", type=float, default=0.0)
    parser.add_argument("--recall", type=float, default=1.0)
    parser.add_argument("--threshold", type=float, default=None)
    parser.add_argument("--max-block-size", type=int, default=None, help="fixed block cap (default: the model's pair budget)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1, help="questions asked between refits of the learner")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    add_training_arguments(parser)
    print(json.dumps(run(parser.parse_args())), flush=True)


if __name__ == "__main__":
    main()

"""Vary the clustering threshold offline on the scored pairs of real benchmark runs.

    # 1. one benchmark_matching run (same arguments), dumping each checkpoint's run to a pickle
    DUMP_DIR=/tmp/dumps .venv/bin/python benchmarks/threshold_study.py run --input data.csv --seed 1 --labels 100 --checkpoints 50
    # 2. F1 at other thresholds, the band between 0.2 and the bar, and the pairs only a lower bar would join
    .venv/bin/python benchmarks/threshold_study.py analyze '/tmp/dumps/*.pkl' --thresholds 0.2,0.3,0.4,0.5,0.6,0.8,0.9

Each checkpoint writes <DUMP_DIR>/<dataset>-<seed>-<labels>.pkl: every scored pair of the run, the truth per
record (and source, for link sets), the labelled pairs with their answers, the active model's scores for them
in and out of fold, the model's threshold and its estimates. The threshold only decides clustering (and the
estimate): training, the queue and scoring do not read it, so a run's scores are the same whatever bar it
clusters at (checked: identical scores from two runs whose models chose 0.5 and 0.2), and `analyze` gives
the F1 each bar would have had in that very run. Study of 2026-12-07: benchmarks/results/threshold-study-2026-12-07.md.
"""

from __future__ import annotations

import argparse
import glob
import os
import pickle
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "steward.settings")
    os.environ.setdefault("DEBUG", "true")  # a throwaway benchmark process, as bench-quality runs it
    import django

    django.setup()


def run(argv: list[str]) -> None:
    _django()
    import numpy
    from django.core.management import call_command

    from curation import benchmarking
    from curation.models import Label
    from mastering.engine._classifier import cross_validated_predictions
    from mastering.mapping import mapped_records, projection_for
    from mastering.models import Job, ScoredPair
    from mastering.services.master.blocking import matcher

    seed = int(argv[argv.index("--seed") + 1]) if "--seed" in argv else 1
    evaluate = benchmarking.evaluate

    def evaluate_and_dump(dataset, entity_type):
        quality = evaluate(dataset, entity_type)
        job = Job.objects.filter(entity_type=entity_type, kind=Job.Kind.MASTER).order_by("-pk").first()
        model = entity_type.active_model
        scored = numpy.array(list(ScoredPair.objects.filter(job=job).values_list("left", "right", "score")), dtype=float)
        labels = list(Label.objects.filter(pair__entity_type=entity_type, revoked_at__isnull=True)
                      .values_list("pair__left_id", "pair__right_id", "answer", "pair__origin"))
        own = matcher(model)
        records = mapped_records(projection_for(entity_type), record_ids={r for a, b, _, _ in labels for r in (a, b)})
        pair_array = numpy.array([(a, b) for a, b, _, _ in labels], dtype=numpy.int64).reshape(-1, 2)
        label_scores = numpy.concatenate([c["score"] for c in own.score(pair_array, records)]) if len(pair_array) else []
        y = numpy.array([answer == "match" for _, _, answer, _ in labels], dtype=int)
        folds = min(5, int(y.sum()), int(len(y) - y.sum()))
        out_of_fold = None
        if folds >= 2:
            prepared = own.prepare(records)
            features = own.data_model.distances([(prepared[a], prepared[b]) for a, b, _, _ in labels])
            out_of_fold = cross_validated_predictions(features, y, seed, folds)
        dump = {
            "quality": quality, "scored": scored, "truth": benchmarking.truth_by_record(dataset),
            "source_of": benchmarking.source_by_record() if dataset.link else None,
            "one_per_source": entity_type.one_per_source, "labels": labels, "label_scores": numpy.asarray(label_scores),
            "label_oof": out_of_fold, "threshold": own.threshold, "type_threshold": entity_type.match_threshold,
            "estimated_precision": model.precision, "estimated_recall": model.recall, "label_count": model.label_count,
        }
        folder = Path(os.environ.get("DUMP_DIR", "/tmp/threshold_dumps"))
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{dataset.name}-{seed}-{model.label_count}.pkl", "wb") as handle:
            pickle.dump(dump, handle)
        return quality

    benchmarking.evaluate = evaluate_and_dump
    call_command("benchmark_matching", *argv)


def analyze(pattern: str, thresholds: list[float], lowest: float) -> None:
    _django()
    import numpy

    from curation.benchmarking import pairwise_quality
    from mastering.engine.clustering import SCORE_DTYPE, cluster_pairs

    for path in sorted(glob.glob(pattern)):
        with open(path, "rb") as handle:
            dump = pickle.load(handle)
        scored = dump["scored"]
        pairs = numpy.empty(len(scored), dtype=SCORE_DTYPE)
        pairs["pairs"], pairs["score"] = scored[:, :2].astype(numpy.int64), numpy.nan_to_num(scored[:, 2])
        truth, source_of = dump["truth"], dump["source_of"]
        group_of = {r: str(s) for r, s in source_of.items()} if source_of and dump["one_per_source"] else None

        def quality_at(bar: float, extra: list | None = None) -> dict:
            # As finish_master does: pairs under half the bar are not read.
            kept = pairs[pairs["score"] >= bar * 0.5]
            clusters = [c.record_ids for c in cluster_pairs(kept, threshold=bar, group_of=group_of)] if len(kept) else []
            return pairwise_quality(clusters + (extra or []), truth=truth, source_of=source_of)

        bar = dump["type_threshold"] if dump["type_threshold"] is not None else dump["threshold"]
        score = pairs["score"]
        above, band = int((score > bar).sum()), int(((score > lowest) & (score <= bar)).sum())
        print(f"{os.path.basename(path)}: run F1 {dump['quality']['f1']} at {bar:g} "
              f"(estimated P {dump['estimated_precision']} R {dump['estimated_recall']}; true P {dump['quality']['precision']} "
              f"R {dump['quality']['recall']}); pairs above the bar {above}, between {lowest:g} and it {band} ({band / max(above, 1):.4f})")
        print("  F1 by bar: " + "  ".join(f"{t:g}: {quality_at(t)['f1']:.4f}" for t in thresholds))
        if group_of is None:
            # Band pairs whose two records have no other pair above `lowest`: joining only these cannot chain clusters.
            ids, counts = numpy.unique(pairs["pairs"][score > lowest], return_counts=True)
            degree = dict(zip(ids.tolist(), counts.tolist()))
            isolated = [(int(a), int(b)) for (a, b), s in zip(pairs["pairs"].tolist(), score.tolist())
                        if lowest < s <= bar and degree.get(a) == 1 and degree.get(b) == 1]
            true = sum(1 for a, b in isolated if truth.get(a) is not None and truth.get(a) == truth.get(b))
            print(f"  isolated band pairs {len(isolated)} ({true} true): F1 with them joined "
                  f"{quality_at(bar, [list(p) for p in isolated])['f1']:.4f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        run(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "analyze"])
    parser.add_argument("pattern", help="Glob of the pickles `run` wrote.")
    parser.add_argument("--thresholds", default="0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    parser.add_argument("--lowest", type=float, default=0.2, help="Lower edge of the band under the bar.")
    args = parser.parse_args()
    analyze(args.pattern, [float(t) for t in args.thresholds.split(",")], args.lowest)


if __name__ == "__main__":
    main()

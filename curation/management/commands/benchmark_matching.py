"""Measure accuracy and speed of the whole pipeline on a labeled data set, in a throwaway database."""

import json
import random
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.services import create_user
from curation import benchmarking
from mastering.models import EntityType
from steward.celery import app as celery_app


class Command(BaseCommand):
    help = (
        "Run ingest → simulated curator (answers from the truth through the queue services) → training → mastering "
        "on a labeled CSV in a throwaway database, and print one JSON line of accuracy and speed (one per checkpoint). "
        "With --baseline dedupe, plain dedupe runs on the same records, truth and label budgets, and each line "
        "also carries its figures and the ratio of Steward's F1 to it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--input", type=Path, help="One table with an id column and a truth (cluster) column.")
        parser.add_argument("--id-column", default="record_id")
        parser.add_argument("--truth-column", default="true_cluster_id")
        parser.add_argument("--left", type=Path, help="Left table of a link data set (column id).")
        parser.add_argument("--right", type=Path, help="Right table of a link data set (column id).")
        parser.add_argument("--truth", type=Path, help="Matches of a link data set: columns left_id,right_id.")
        parser.add_argument("--labels", type=int, default=50, help="Answers the simulated curator gives.")
        parser.add_argument("--checkpoints", default="", help="Also report at these label counts, e.g. 20,50.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--fields", default="", help="Comma-separated columns to match on (default: all but id and truth).")
        parser.add_argument("--sample-size", type=int, default=3000, help="Records the active learner works on.")
        parser.add_argument("--random-share", type=float, default=None, help="Share of random pairs in the queue.")
        parser.add_argument("--threshold", type=float, default=None, help="Match threshold (default: the entity type's).")
        parser.add_argument("--na-values", default="", help="Comma-separated cell values that mean missing, e.g. NA.")
        parser.add_argument("--baseline", choices=["dedupe"], default=None,
                            help="Also run plain dedupe with the same simulated answers and label budgets, in a child process.")

    def handle(self, *args, **options):
        dataset = self._dataset(options)
        random.seed(options["seed"])
        started = time.perf_counter()
        celery_app.conf.task_always_eager = True  # the whole run happens in this process, so it is measured
        old_name = connection.settings_dict["NAME"]
        test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            for line in self._run(dataset, options, started):
                self.stdout.write(json.dumps(line))
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        del test_name

    def _dataset(self, options) -> benchmarking.Dataset:
        fields = [f.strip() for f in options["fields"].split(",") if f.strip()] or None
        missing = [v.strip() for v in options["na_values"].split(",") if v.strip()]
        try:
            if options["input"]:
                return benchmarking.dedup_dataset(options["input"], id_column=options["id_column"],
                                                  truth_column=options["truth_column"], fields=fields, missing_values=missing)
            if options["left"] and options["right"] and options["truth"]:
                return benchmarking.link_dataset(options["left"], options["right"], options["truth"], fields=fields,
                                                 missing_values=missing)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        raise CommandError("Give --input (with --id-column and --truth-column) or --left, --right and --truth.")

    def _run(self, dataset, options, started):
        entity_type = benchmarking.load(dataset, sample_size=options["sample_size"], seed=options["seed"])
        overrides = {"random_pair_share": options["random_share"], "match_threshold": options["threshold"]}
        EntityType.objects.filter(pk=entity_type.pk).update(**{k: v for k, v in overrides.items() if v is not None})
        entity_type.refresh_from_db()
        curator = create_user(username="simulated-curator", password="x" * 20, role="curator")
        simulated = benchmarking.SimulatedCurator(dataset, entity_type, curator, options["seed"])
        records = sum(1 for _ in dataset.truth)
        checkpoints = sorted({int(c) for c in options["checkpoints"].split(",") if c.strip()} | {options["labels"]})
        train_seconds = 0.0
        lines = []
        for checkpoint in checkpoints:
            clock = time.perf_counter()
            simulated.label(checkpoint)
            benchmarking.train_now(entity_type)
            train_seconds += time.perf_counter() - clock
            entity_type.refresh_from_db()
            job, match_seconds = benchmarking.run_master(entity_type)
            quality = benchmarking.evaluate(dataset, entity_type)
            model = entity_type.active_model
            line = {
                "dataset": dataset.name, "records": records, "budget": checkpoint, "labels": simulated.answered, **quality,
                "estimated_precision": model.precision, "estimated_recall": model.recall,
                "model_version": model.version, "pairs_scored": job.counts.get("pairs"),
                "entities": job.counts.get("entities"), "train_s": round(train_seconds, 1), "match_s": round(match_seconds, 1),
                "total_s": round(time.perf_counter() - started, 1), "peak_rss_mb": benchmarking.peak_rss_mb(),
                "seed": options["seed"],
            }
            if options["baseline"] is None:
                yield line
            else:
                lines.append(line)
        if options["baseline"] is None:
            return
        # After Steward's run, so Steward's peak memory above does not include the baseline's child process.
        try:
            baseline = benchmarking.run_baseline(dataset, entity_type, budgets=checkpoints, seed=options["seed"])
        except Exception as exc:  # a killed or failed baseline still leaves Steward's figures worth printing
            baseline = [{"f1": None, "error": repr(exc)}] * len(lines)
        for line, other in zip(lines, baseline):
            line["baseline"] = {"name": options["baseline"], **other}
            line["ratio"] = round(line["f1"] / other["f1"], 4) if other.get("f1") else None
            yield line

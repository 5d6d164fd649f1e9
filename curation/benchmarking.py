"""Measuring the whole pipeline on a labeled data set: load, teach with a simulated curator, master, score.

Used by `manage.py benchmark_matching` and `benchmarks/master_scale.py`. The simulated curator answers
the pairs the queue hands it, from the truth, through the same services as the labeling page.
"""

import csv
import io
import itertools
import random
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from curation import selectors as curation_selectors
from curation import services as curation_services
from curation.queue_state import next_for
from mastering import engine, services
from mastering.models import EntityType, Job, Membership, Source, SourceRecord


@dataclass
class Dataset:
    name: str
    tables: list[tuple[str, Path]]  # (source slug, CSV path)
    id_column: str
    fields: list[str]
    truth: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, key) → cluster
    link: bool = False


def read_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def dedup_dataset(path: Path, *, id_column: str, truth_column: str, fields: list[str] | None) -> Dataset:
    """One table with a truth (cluster) column; the id and truth columns are never features."""
    header = read_header(path)
    for column in (id_column, truth_column):
        if column not in header:
            raise ValueError(f"{path.name} has no column {column!r}; columns: {', '.join(header)}")
    chosen = fields or [c for c in header if c not in (id_column, truth_column)]
    chosen = [c for c in chosen if c not in (id_column, truth_column)]
    truth = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            truth[("data", row[id_column].strip())] = row[truth_column]
    return Dataset(path.stem if path.stem != "data" else path.parent.name, [("data", path)], id_column, chosen, truth)


def link_dataset(left: Path, right: Path, truth_path: Path, *, fields: list[str] | None) -> Dataset:
    """Two tables and a list of matching (left_id, right_id) pairs; clusters are their connected groups."""
    header = read_header(left)
    chosen = fields or [c for c in header if c != "id"]
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    with open(truth_path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            a, b = find(("left", row["left_id"].strip())), find(("right", row["right_id"].strip()))
            parent[a] = b
    truth = {}
    for slug, path in (("left", left), ("right", right)):
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                node = (slug, row["id"].strip())
                truth[node] = "|".join(find(node))
    return Dataset(left.parent.name, [("left", left), ("right", right)], "id", chosen, truth, link=True)


def load(dataset: Dataset, *, sample_size: int = 3000, seed: int = 1) -> EntityType:
    """Create the sources (text fields only), ingest the tables, and map them into one entity type."""
    for slug, path in dataset.tables:
        header = read_header(path)
        fields = [{"name": dataset.id_column, "type": "string"}] + [
            {"name": f, "type": "string"} for f in dataset.fields if f in header and f != dataset.id_column]
        source = services.create_source(name=slug, slug=slug, key_field=dataset.id_column, fields=fields, actor=None)
        with open(path, "rb") as stream:
            batch = services.receive_table(source=source, stream=stream, file_name=path.name, user=None,
                                           channel="command", background=False)
        if batch.status != "succeeded":
            raise RuntimeError(f"Loading {path} failed: {batch.problems[:3]}")
    comparators = _infer_comparators(dataset)
    return services.create_entity_type(
        name=dataset.name.title(), slug="bench", actor=None, one_per_source=dataset.link, training_sample_size=sample_size,
        learning_seed=seed,
        attributes=[{"name": f, "comparator": comparators[f]} for f in dataset.fields],
        mappings=[{"source": slug, "field": f, "attribute": f, "transforms": ["trim", "collapse_whitespace"]}
                  for slug, path in dataset.tables for f in dataset.fields if f in read_header(path)],
    )


def _infer_comparators(dataset: Dataset) -> dict[str, str]:
    """Comparators from the values; a few repeated values only count as categories if the tables spell them alike."""
    values: dict[str, list] = defaultdict(list)
    per_table: dict[str, list[set]] = defaultdict(list)
    for _, path in dataset.tables:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(itertools.islice(csv.DictReader(handle), 2000))
        for f in dataset.fields:
            column = [row[f].strip() or None for row in rows if f in row]
            values[f].extend(column)
            per_table[f].append({v.casefold() for v in column if v})
    chosen = {}
    for f in dataset.fields:
        comparator = engine.infer_comparator(values[f])
        tables = per_table[f]
        if comparator in ("Exact", "Categorical") and len(tables) > 1:
            shared = set.intersection(*tables)
            if len(shared) < 0.5 * min(len(t) for t in tables):
                comparator = "String"
        chosen[f] = comparator
    return chosen


class SimulatedCurator:
    """Answers whatever the queue hands it, from the truth, through the queue services."""

    def __init__(self, dataset: Dataset, entity_type: EntityType, user, seed: int):
        self.entity_type = entity_type
        self.user = user
        self.rng = random.Random(seed)
        keys = SourceRecord.objects.filter(source__in=Source.objects.all()).values_list("pk", "source__slug", "key")
        self.cluster_of = {pk: dataset.truth.get((slug, key)) for pk, slug, key in keys}
        self.answered = 0

    def label(self, until: int) -> int:
        idle = 0
        while self.answered < until:
            state = next_for(curator=self.user, entity_type=self.entity_type)
            if state.pair is None:
                idle += 1
                if idle > 3:
                    break
                continue
            idle = 0
            same = self.cluster_of.get(state.pair.left_id) is not None and \
                self.cluster_of.get(state.pair.left_id) == self.cluster_of.get(state.pair.right_id)
            curation_services.answer_pair(pair=state.pair, curator=self.user, answer="match" if same else "distinct",
                                          seconds_spent=round(self.rng.uniform(2, 9), 1))
            self.answered += 1
        return self.answered


def evaluate(dataset: Dataset, entity_type: EntityType) -> dict:
    """Pairwise precision, recall and F1 of the entities against the truth (cross-source pairs only for links)."""
    keys = dict(SourceRecord.objects.values_list("pk", "source__slug"))
    record_keys = {pk: (slug, key) for pk, slug, key in SourceRecord.objects.values_list("pk", "source__slug", "key")}
    members = defaultdict(list)
    for entity_id, record_id in Membership.objects.filter(entity_type=entity_type).values_list("entity_id", "record_id"):
        members[entity_id].append(record_id)
    predicted = set()
    for records in members.values():
        for a, b in itertools.combinations(sorted(records), 2):
            if not dataset.link or keys[a] != keys[b]:
                predicted.add((a, b))
    by_cluster = defaultdict(list)
    for pk, node in record_keys.items():
        cluster = dataset.truth.get(node)
        if cluster is not None:
            by_cluster[cluster].append(pk)
    actual = set()
    for records in by_cluster.values():
        for a, b in itertools.combinations(sorted(records), 2):
            if not dataset.link or keys[a] != keys[b]:
                actual.add((a, b))
    true_positive = len(predicted & actual)
    precision = true_positive / len(predicted) if predicted else 0.0
    recall = true_positive / len(actual) if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def run_master(entity_type: EntityType) -> tuple[Job, float]:
    started = time.perf_counter()
    job = services.start_job(entity_type=entity_type, kind=Job.Kind.MASTER)
    job.refresh_from_db()
    if job.status != Job.Status.DONE:
        raise RuntimeError(f"Mastering failed: {job.status} {job.error}")
    return job, time.perf_counter() - started


def train_now(entity_type: EntityType) -> None:
    """Make sure the latest labels are in the active model before measuring."""
    if curation_selectors.label_counts(entity_type=entity_type)["labels"] != getattr(entity_type.active_model, "label_count", -1):
        curation_services.train_match_model(entity_type=entity_type)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, children) / 1024, 1)


def csv_text(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()

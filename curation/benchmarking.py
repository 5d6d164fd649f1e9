"""Measuring the whole pipeline on a labeled data set: load, teach with a simulated curator, master, score.

Used by `manage.py benchmark_matching` and `benchmarks/master_scale.py`. The simulated curator answers
the pairs the queue hands it, from the truth, through the same services as the labeling page.
`run_baseline` runs plain dedupe (mastering.engine.baseline) on the same records, attributes, truth
and label budgets, scored the same way.
"""

import csv
import io
import itertools
import random
import resource
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from curation import selectors as curation_selectors
from curation import services as curation_services
from curation.queue_state import next_for
from curation.services.learning import attribute_specs
from mastering import engine, services
from mastering.engine import baseline
from mastering.mapping import mapped_records, normalize_name, projection_for
from mastering.models import EntityType, Job, Membership, Source, SourceRecord


@dataclass
class Dataset:
    name: str
    tables: list[tuple[str, Path]]  # (source slug, CSV path)
    id_column: str
    fields: list[str]  # the entity type's attributes, in order
    truth: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, key) → cluster
    link: bool = False
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # source slug → {column: attribute}
    missing_values: list[str] = field(default_factory=list)  # cells that mean "no value", such as NA

    def columns_of(self, slug: str) -> dict[str, str]:
        """The table's columns that feed attributes, and the attribute each feeds."""
        if slug in self.columns:
            return self.columns[slug]
        return {f: f for f in self.fields}


def read_header(path: Path) -> list[str]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle))


def dedup_dataset(path: Path, *, id_column: str, truth_column: str, fields: list[str] | None,
                  missing_values: list[str] = ()) -> Dataset:
    """One table with a truth (cluster) column; the id and truth columns are never features."""
    header = read_header(path)
    for column in (id_column, truth_column):
        if column not in header:
            raise ValueError(f"{path.name} has no column {column!r}; columns: {', '.join(header)}")
    unknown = [f for f in fields or () if f not in header]
    if unknown:
        raise ValueError(f"{path.name} has no column {', '.join(map(repr, unknown))}; columns: {', '.join(header)}")
    chosen = fields or [c for c in header if c not in (id_column, truth_column)]
    chosen = [c for c in chosen if c not in (id_column, truth_column)]
    truth = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            truth[("data", row[id_column].strip())] = row[truth_column]
    return Dataset(path.stem if path.stem != "data" else path.parent.name, [("data", path)], id_column, chosen, truth,
                   columns={"data": {c: c for c in chosen}}, missing_values=list(missing_values))


def pair_columns(left: list[str], right: list[str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Attributes for two tables: a column of the right table feeds the left column of the same name;
    the right table's other columns feed the left table's unclaimed columns in order, and any beyond
    those become attributes of their own. Returns (attributes, left column → attribute, right column → attribute).

    Names compare as the admin's mapping proposals compare them ("same name": case, accents and
    punctuation aside). The proposals themselves also weigh synonyms and shared values, and need
    the tables loaded; two tables of one data set that name fields differently still list them
    in the same order, which is what a benchmark can rely on.
    """
    left_map = {column: column for column in left}
    by_name = {normalize_name(column): column for column in reversed(left)}  # the first of equal names wins
    right_map: dict[str, str] = {}
    for column in right:
        partner = by_name.pop(normalize_name(column), None)
        if partner is not None:
            right_map[column] = partner
    unclaimed = [column for column in left if column in by_name.values()]
    extra: list[str] = []
    for column in right:
        if column in right_map:
            continue
        if unclaimed:
            right_map[column] = unclaimed.pop(0)
        else:
            right_map[column] = column
            extra.append(column)
    return list(left) + extra, left_map, right_map


def link_dataset(left: Path, right: Path, truth_path: Path, *, fields: list[str] | None,
                 missing_values: list[str] = ()) -> Dataset:
    """Two tables and a list of matching (left_id, right_id) pairs; clusters are their connected groups."""
    attributes, left_map, right_map = pair_columns([c for c in read_header(left) if c != "id"],
                                                   [c for c in read_header(right) if c != "id"])
    if fields:
        unknown = [f for f in fields if f not in attributes]
        if unknown:
            raise ValueError(f"No column {', '.join(map(repr, unknown))} in the left table or the right table's own; "
                             f"attributes: {', '.join(attributes)}")
        attributes = [a for a in attributes if a in fields]
        left_map = {c: a for c, a in left_map.items() if a in fields}
        right_map = {c: a for c, a in right_map.items() if a in fields}
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
    return Dataset(left.parent.name, [("left", left), ("right", right)], "id", attributes, truth, link=True,
                   columns={"left": left_map, "right": right_map}, missing_values=list(missing_values))


def load(dataset: Dataset, *, sample_size: int = 3000, seed: int = 1) -> EntityType:
    """Create the sources (text fields only), ingest the tables, and map them into one entity type."""
    for slug, path in dataset.tables:
        header = read_header(path)
        fields = [{"name": dataset.id_column, "type": "string"}] + [
            {"name": c, "type": "string"} for c in dataset.columns_of(slug) if c in header and c != dataset.id_column]
        source = services.create_source(name=slug, slug=slug, key_field=dataset.id_column, fields=fields, actor=None,
                                        missing_values=dataset.missing_values)
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
        mappings=[{"source": slug, "field": column, "attribute": attribute, "transforms": ["trim", "collapse_whitespace"]}
                  for slug, path in dataset.tables for column, attribute in dataset.columns_of(slug).items()
                  if column in read_header(path)],
    )


def _infer_comparators(dataset: Dataset) -> dict[str, str]:
    """Comparators from the values; a few repeated values only count as categories if the tables spell them alike."""
    values: dict[str, list] = defaultdict(list)
    per_table: dict[str, list[set]] = defaultdict(list)
    missing = {m.strip().casefold() for m in dataset.missing_values}
    for slug, path in dataset.tables:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(itertools.islice(csv.DictReader(handle), 2000))
        for name, f in dataset.columns_of(slug).items():
            column = [row[name].strip() or None for row in rows if name in row]
            column = [None if v is not None and v.casefold() in missing else v for v in column]
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


def truth_by_record(dataset: Dataset) -> dict[int, str | None]:
    """Record id → true cluster (None for a record the truth does not mention)."""
    rows = SourceRecord.objects.values_list("pk", "source__slug", "key")
    return {pk: dataset.truth.get((slug, key)) for pk, slug, key in rows}


def source_by_record() -> dict[int, str]:
    return dict(SourceRecord.objects.values_list("pk", "source__slug"))


def entity_members(entity_type: EntityType) -> list[list[int]]:
    """Each entity's record ids."""
    members = defaultdict(list)
    for entity_id, record_id in Membership.objects.filter(entity_type=entity_type).values_list("entity_id", "record_id"):
        members[entity_id].append(record_id)
    return list(members.values())


def evaluate(dataset: Dataset, entity_type: EntityType) -> dict:
    """Pairwise precision, recall and F1 of the entities against the truth (cross-source pairs only for links)."""
    return pairwise_quality(entity_members(entity_type), truth=truth_by_record(dataset),
                            source_of=source_by_record() if dataset.link else None)


def pairwise_quality(clusters, *, truth: dict[int, str | None], source_of: dict[int, str] | None) -> dict:
    """Pairwise precision, recall and F1 of predicted clusters (lists of record ids); with `source_of`, cross-source pairs only."""

    def pairs(groups) -> set[tuple[int, int]]:
        found = set()
        for records in groups:
            for a, b in itertools.combinations(sorted(records), 2):
                if source_of is None or source_of[a] != source_of[b]:
                    found.add((a, b))
        return found

    by_cluster = defaultdict(list)
    for pk, cluster in truth.items():
        if cluster is not None:
            by_cluster[cluster].append(pk)
    predicted, actual = pairs(clusters), pairs(by_cluster.values())
    true_positive = len(predicted & actual)
    precision = true_positive / len(predicted) if predicted else 0.0
    recall = true_positive / len(actual) if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


# Bands of true cluster size for recall: large clusters are where a matcher tuned on pairs fails.
CLUSTER_SIZE_BANDS = ((2, 2), (3, 5), (6, 20), (21, 100), (101, None))


def recall_by_cluster_size(clusters, *, truth: dict[int, str | None]) -> dict[str, dict]:
    """Pairwise recall per band of true cluster size: of each band's true pairs, the share placed in one cluster."""
    entity_of = {pk: n for n, records in enumerate(clusters) for pk in records}
    size, together = Counter(), Counter()  # per true cluster: records, and records per (true cluster, entity)
    for pk, cluster in truth.items():
        if cluster is not None:
            size[cluster] += 1
            together[cluster, entity_of.get(pk, ("alone", pk))] += 1
    found = Counter()
    for (cluster, _), n in together.items():
        found[cluster] += n * (n - 1) // 2
    bands = {}
    for low, high in CLUSTER_SIZE_BANDS:
        inside = [c for c, n in size.items() if n >= low and (high is None or n <= high)]
        pairs = sum(size[c] * (size[c] - 1) // 2 for c in inside)
        name = f"{low}" if low == high else f"{low}+" if high is None else f"{low}-{high}"
        bands[name] = {"clusters": len(inside), "true_pairs": pairs,
                       "recall": round(sum(found[c] for c in inside) / pairs, 4) if pairs else None}
    return bands


def run_baseline(dataset: Dataset, entity_type: EntityType, *, budgets: list[int], seed: int) -> list[dict]:
    """Plain dedupe on the same records (as the entity type's mappings project them), attributes and truth,
    one result per label budget, scored like Steward's entities. It runs in a fresh interpreter, so its
    peak memory is its own."""
    projection = projection_for(entity_type)
    truth = truth_by_record(dataset)
    source_of = source_by_record() if dataset.link else None
    results = baseline.run_dedupe_baseline_isolated(
        records=mapped_records(projection), specs=attribute_specs(projection), is_match=baseline.SameCluster(truth),
        labels=budgets, seed=seed, group_of=source_of,
    )
    lines = []
    for result in results:
        quality = pairwise_quality(result.clusters, truth=truth, source_of=source_of)
        lines.append({**quality, "labels": result.labels, "matches": result.matches, "seconds": result.seconds,
                      **result.timings, "peak_rss_mb": result.peak_rss_mb,
                      **({"note": result.note} if result.note else {})})
    return lines


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

"""The dedupe baseline: plain dedupe on a small synthetic set of people, answered from the truth."""

from __future__ import annotations

import itertools
import random

import dedupe.variables
import pytest

from mastering.engine import AttributeSpec
from mastering.engine.baseline import SameCluster, dedupe_variable, run_dedupe_baseline

GIVEN = ["alice", "bruno", "chloe", "deepak", "elena", "farid", "grace", "hiro", "ines", "jonas", "kemal", "lucia",
         "mateo", "nadia", "oscar", "priya", "quentin", "rosa", "stefan", "tamar", "umar", "vera", "wanda", "xavier"]
SURNAMES = ["anderson", "bianchi", "castillo", "dubois", "eriksen", "fitzgerald", "gonzalez", "hoffmann", "ivanova",
            "jablonski", "kowalczyk", "lindqvist", "morrison", "nakamura", "okafor", "petrovic", "quigley", "rasmussen"]
STREETS = ["baker street", "elm avenue", "harbour road", "kingfisher lane", "collins street", "ocean parade",
           "wattle court", "station street", "banksia drive", "george street", "railway terrace", "mill road"]
SUBURBS = ["richmond", "fitzroy", "manly", "parramatta", "melbourne", "coogee", "box hill", "ballarat", "toowong"]
SPECS = [
    AttributeSpec("given_name", "ShortString"),
    AttributeSpec("surname", "ShortString"),
    AttributeSpec("address", "String"),
    AttributeSpec("suburb", "ShortString"),
    AttributeSpec("birth_date", "DateTime"),
]


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :] if rng.random() < 0.5 else word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def people(n: int = 60, *, seed: int = 5) -> tuple[dict[int, dict[str, object]], dict[int, str]]:
    """`n` people; every third one appears again with a typo or an abbreviation (and one of those a third time)."""
    rng = random.Random(seed)
    records: dict[int, dict[str, object]] = {}
    cluster_of: dict[int, str] = {}
    for person in range(n):
        original = {
            "given_name": rng.choice(GIVEN), "surname": rng.choice(SURNAMES),
            "address": f"{rng.randrange(1, 300)} {rng.choice(STREETS)}", "suburb": rng.choice(SUBURBS),
            "birth_date": f"{rng.randrange(1940, 2005)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        }
        copies = [original]
        if person % 3 == 0:
            copies.append({**original, "surname": _typo(rng, str(original["surname"]))})
        if person % 9 == 0:
            copies.append({**original, "address": str(original["address"]).replace("street", "st").replace("road", "rd"),
                           "given_name": original["given_name"].title(), "birth_date": None})
        for record in copies:
            rid = 1000 + len(records)
            records[rid] = record
            cluster_of[rid] = f"p{person}"
    return records, cluster_of


def pairwise(clusters: list[list[int]], cluster_of: dict[int, str], group_of: dict[int, str] | None = None) -> tuple[float, float]:
    def pairs(groups):
        return {(a, b) for g in groups for a, b in itertools.combinations(sorted(g), 2)
                if group_of is None or group_of[a] != group_of[b]}

    truth: dict[str, list[int]] = {}
    for rid, cluster in cluster_of.items():
        truth.setdefault(cluster, []).append(rid)
    predicted, actual = pairs(clusters), pairs(truth.values())
    hit = len(predicted & actual)
    return (hit / len(predicted) if predicted else 0.0), hit / len(actual)


def test_dedupe_baseline_finds_the_obvious_duplicates():
    records, cluster_of = people()
    [result] = run_dedupe_baseline(records, specs=SPECS, is_match=SameCluster(cluster_of), labels=20, seed=1)
    precision, recall = pairwise(result.clusters, cluster_of)
    assert (result.budget, result.labels) == (20, 20)
    assert 0 < result.matches < 20
    assert precision >= 0.9 and recall >= 0.9, (precision, recall, result.note)
    assert set(result.timings) == {"prepare_s", "label_s", "train_s", "match_s"}
    assert result.note == ""


def test_dedupe_baseline_links_two_tables_at_most_one_partner_each():
    records, cluster_of = people(45, seed=8)
    # The left table holds each person's first record, the right table every other record.
    first = {}
    for rid in sorted(records):
        first.setdefault(cluster_of[rid], rid)
    group_of = {rid: "left" if first[cluster_of[rid]] == rid else "right" for rid in records}
    [result] = run_dedupe_baseline(records, specs=SPECS, is_match=SameCluster(cluster_of), labels=20, seed=2, group_of=group_of)
    assert all(len(pair) == 2 and group_of[pair[0]] != group_of[pair[1]] for pair in result.clusters)
    linked = [rid for pair in result.clusters for rid in pair]
    assert len(linked) == len(set(linked))  # one-to-one
    precision, recall = pairwise(result.clusters, cluster_of, group_of)
    # A one-to-one join can link only one of a left record's two right partners.
    assert precision >= 0.9 and recall >= 0.7, (precision, recall, result.note)


def test_a_checkpoint_gives_what_a_run_with_that_budget_alone_gives():
    records, cluster_of = people()
    alone = run_dedupe_baseline(records, specs=SPECS, is_match=SameCluster(cluster_of), labels=12, seed=3)
    checkpoints = run_dedupe_baseline(records, specs=SPECS, is_match=SameCluster(cluster_of), labels=[12, 24], seed=3)
    assert [r.budget for r in checkpoints] == [12, 24]
    assert checkpoints[0].clusters == alone[0].clusters
    assert checkpoints[0].matches == alone[0].matches
    assert checkpoints[1].labels == 24  # labelling went on after training at the first checkpoint


def test_without_a_match_answer_the_baseline_matches_nothing_and_says_why():
    records, _ = people(30)
    [result] = run_dedupe_baseline(records, specs=SPECS, is_match=lambda a, b: False, labels=5, seed=1)
    assert (result.labels, result.matches, result.clusters) == (5, 0, [])
    assert result.note == "no match answer among 5 labels: dedupe cannot train, nothing matched"


@pytest.mark.parametrize(("comparator", "kind"), [
    ("String", dedupe.variables.String), ("ShortString", dedupe.variables.ShortString),
    ("DateTime", dedupe.variables.ShortString), ("Text", dedupe.variables.Text), ("Exact", dedupe.variables.Exact),
    ("Price", dedupe.variables.Price), ("Set", dedupe.variables.Set), ("Exists", dedupe.variables.Exists),
])
def test_each_attribute_is_one_plain_dedupe_variable_of_its_comparators_kind(comparator, kind):
    variable = dedupe_variable(AttributeSpec("x", comparator, has_missing=False))
    assert type(variable) is kind
    assert variable.has_missing

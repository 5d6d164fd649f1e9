"""Blocking rules learned on a sample: broad predicates, large clusters, budgets of wasted comparisons."""

import random

import numpy

from mastering.engine import AttributeSpec, LabeledPair, Matcher, candidate_pairs, train_model
from mastering.engine._blocks import Blocks, conjoin, unpack
from mastering.engine._coverage import (
    KEYS_PER_RECORD,
    MIN_RULE_KEYS,
    MIN_TOTAL_KEYS,
    TOTAL_KEYS_PER_RECORD,
    SampleCoverage,
    _Waste,
)
from mastering.engine.training import predicate_name
from mastering.engine.variables import prepare_record, to_dedupe_variables

import dedupe.datamodel


def _word(rng: random.Random, n: int = 8) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def test_conjunction_blocks_are_the_records_sharing_both_blocks():
    first = Blocks.from_keys(numpy.array([0, 1, 2, 3]), numpy.array([7, 7, 7, 8]))
    second = Blocks.from_keys(numpy.array([0, 1, 2, 3]), numpy.array([5, 5, 6, 6]))
    both = conjoin(first, second, 4)
    assert both.pairs == 1 and unpack(both.codes)[0].tolist() == [0] and unpack(both.codes)[1].tolist() == [1]


def test_broad_blocks_are_counted_and_sampled_without_storing_their_pairs():
    blocks = Blocks.from_keys(numpy.arange(1000), numpy.zeros(1000, dtype=numpy.int64), limit=1000)
    assert blocks.codes is None and blocks.pairs == 1000 * 999 // 2
    a, b = unpack(blocks.sample(50, numpy.random.default_rng(1)))
    assert len(a) == 50 and (a < b).all()


def test_a_predicate_too_broad_alone_still_blocks_inside_a_conjunction():
    # Birth year alone puts 50 people in each block (75,000 sample pairs, over 1% of all); year and
    # month together make blocks of about four. Names differ completely between duplicates here,
    # so only the conjunction of the two broad predicates can put them together.
    rng = random.Random(3)
    specs = [AttributeSpec("name", "ShortString"), AttributeSpec("by", "Exact"), AttributeSpec("bm", "Exact")]
    raw = [{"name": _word(rng), "by": str(1940 + rng.randrange(60)), "bm": str(1 + rng.randrange(12))} for _ in range(3000)]
    records = [prepare_record(specs, r) for r in raw]
    predicates = dedupe.datamodel.DataModel(to_dedupe_variables(specs)).predicates
    coverage = SampleCoverage(predicates, records, population=3000)
    matches = [(records[i], {**records[i], "name": _word(rng)}) for i in range(0, 60, 2)]
    rules = coverage.learn(matches, recall=1.0, index_predicates=False, candidate_types="random forest")
    names = [predicate_name(rule) for rule in rules]
    assert any("(by)" in name and "(bm)" in name for name in names), names


def test_a_cluster_of_hundreds_is_blocked_and_found():
    # One person recorded 150 times (a typo here and there), among 450 strangers: every block that
    # holds the cluster is far over 50 records, and most of what it compares are matches.
    rng = random.Random(5)
    specs = [AttributeSpec("given", "ShortString"), AttributeSpec("surname", "ShortString"),
             AttributeSpec("city", "ShortString"), AttributeSpec("born", "ShortString")]
    person = {"given": "marguerite", "surname": "vandenberg", "city": "ballarat", "born": "19610412"}

    def typo(value: str) -> str:
        i = rng.randrange(len(value))
        return value[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + value[i + 1:]

    records: dict[int, dict[str, str]] = {}
    for i in range(150):
        copy = dict(person)
        field = rng.choice(list(copy))
        copy[field] = typo(copy[field])
        records[i] = copy
    for i in range(150, 600):
        records[i] = {"given": _word(rng, 6), "surname": _word(rng), "city": rng.choice(["ballarat", "geelong", "bendigo"]),
                      "born": f"19{rng.randrange(30, 99)}0{rng.randrange(1, 9)}1{rng.randrange(0, 9)}"}
    labels = [LabeledPair(i, i + 1, True) for i in range(0, 40, 2)]
    labels += [LabeledPair(i, j, False) for i, j in zip(range(150, 170), range(0, 20))]
    labels += [LabeledPair(i, i + 1, False) for i in range(200, 240, 2)]
    model = train_model(specs=specs, labels=labels, records=records, seed=1, sample=records)
    matcher = Matcher.from_settings(model.settings)
    found = candidate_pairs(matcher.blocking_keys(records), pair_budget=matcher.pair_budget(len(records)))
    cluster_pairs = {(int(a), int(b)) for a, b in found.pairs if b < 150}
    assert len(cluster_pairs) >= 0.95 * 150 * 149 // 2



def _heavy_tail_sample(population: int):
    # People recorded 1 to 60 times, each copy with typos in two fields, so no one field blocks them all.
    # On a sample of a large population only very narrow rules are affordable, and conjunctions of
    # n-gram predicates are the narrowest: they give a record one key per combination of n-grams.
    rng = random.Random(11)

    def typo(value: str) -> str:
        i = rng.randrange(len(value))
        return value[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") + value[i + 1:]

    specs = [AttributeSpec("given", "ShortString"), AttributeSpec("surname", "ShortString"),
             AttributeSpec("address", "String"), AttributeSpec("ssn", "ShortString"), AttributeSpec("born", "ShortString")]
    # Names and streets repeat across people, as in a real register: each alone blocks broadly.
    given, surnames, streets = ([_word(rng, 6) for _ in range(60)], [_word(rng, 7) for _ in range(100)],
                                [_word(rng, 10) for _ in range(80)])
    raw: list[dict[str, str]] = []
    cluster: list[int] = []
    matches = []
    while len(raw) < 2000:
        person = {"given": rng.choice(given), "surname": rng.choice(surnames),
                  "address": f"{rng.choice(streets)} {rng.choice(['street', 'road', 'place'])}",
                  "ssn": str(rng.randrange(1_000_000, 9_999_999)),
                  "born": f"19{rng.randrange(20, 99)}{rng.randrange(10, 13)}{rng.randrange(10, 29)}"}
        for copy in range(min(int(rng.paretovariate(1.0)), 60)):
            first, second = rng.sample(list(person), 2)
            raw.append({**person, first: typo(person[first]), second: typo(person[second])})
            cluster.append(len(raw) - copy)  # the position of the person's first copy
            if copy:
                matches.append((len(raw) - 2, len(raw) - 1))
    records = [prepare_record(specs, r) for r in raw]
    predicates = dedupe.datamodel.DataModel(to_dedupe_variables(specs)).predicates
    coverage = SampleCoverage(predicates, records, population=population)
    truth = numpy.array(cluster)

    def probability(a, b):  # a classifier that knows the truth: pairs inside a cluster are not waste
        return (truth[a] == truth[b]).astype(float)

    return coverage, [(records[a], records[b]) for a, b in rng.sample(matches, 150)], probability


def _learn(coverage, matches, probability):
    return coverage.learn(matches, recall=1.0, index_predicates=False, candidate_types="random forest",
                          match_probability=probability)


def _keys_per_record(rule, records) -> float:
    return sum(len(rule(record)) for record in records) / len(records)


def test_learned_rules_stay_within_the_block_keys_budget_at_a_million_records():
    coverage, matches, probability = _heavy_tail_sample(population=1_000_000)
    rules = _learn(coverage, matches, probability)
    keys = {predicate_name(rule): _keys_per_record(rule, coverage.records) for rule in rules}
    assert rules and all(k <= KEYS_PER_RECORD for k in keys.values()), keys
    assert sum(keys.values()) <= TOTAL_KEYS_PER_RECORD, keys


def test_rules_held_to_the_keys_budget_still_block_the_labelled_matches():
    coverage, matches, probability = _heavy_tail_sample(population=1_000_000)
    rules = _learn(coverage, matches, probability)
    blocked = sum(1 for a, b in matches if any(not rule(a).isdisjoint(rule(b, target=True)) for rule in rules))
    assert blocked == len(matches)


def test_a_small_data_set_may_spend_more_keys_per_record():
    coverage, _, _ = _heavy_tail_sample(population=2_000)
    n = coverage.n_records
    budgets = coverage.budgets(n)
    assert (budgets.rule_keys, budgets.total_keys) == (MIN_RULE_KEYS / n, MIN_TOTAL_KEYS / n)
    assert coverage.budgets(1_000_000).rule_keys == KEYS_PER_RECORD


def test_a_rule_over_a_small_budget_is_billed_only_for_its_non_matches():
    # A million records leave a rule 18 sample pairs of waste: a one-key rule whose 496 pairs are one
    # cluster's must count as cheap, or only n-gram conjunctions (their pairs counted once per shared
    # key, so over any fixed floor) get measured and chosen.
    blocks = {"cluster": Blocks.from_keys(numpy.arange(32), numpy.zeros(32, dtype=numpy.int64))}
    waste = _Waste(blocks, lambda a, b: numpy.ones(len(a)), numpy.random.default_rng(1), None)
    waste.discount(["cluster"], 18)
    assert blocks["cluster"].pairs == 496 and waste("cluster") <= 18

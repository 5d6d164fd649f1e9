"""Given name and family name swapped between two records of one person (issue 11, febrl1 rec-193)."""

import random

import pytest
from affinegap import normalizedAffineGapDistance

from mastering.engine import ActiveLearner, AttributeSpec, LabeledPair, Matcher, train_model
from mastering.engine.scoring import AttributeContribution
from mastering.engine.variables import AlignedNameDistance, person_name_pair, prepare_record

GIVEN = ["ryan", "mary", "james", "olivia", "liam", "chloe", "jack", "emily", "noah", "grace", "lucas", "zoe",
         "henry", "ella", "oscar", "ruby", "leo", "isla", "max", "mia", "harry", "ivy", "archie", "lily"]
FAMILY = ["campbell", "jones", "nguyen", "smith", "brown", "wilson", "taylor", "white", "martin", "clarke",
          "walker", "hall", "young", "king", "wright", "scott", "green", "baker", "adams", "hill"]
SPECS = [AttributeSpec("given_name", "ShortString"), AttributeSpec("surname", "ShortString"),
         AttributeSpec("postcode", "ShortString"), AttributeSpec("date_of_birth", "ShortString")]


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text))
    return text[:i] + rng.choice("aeiourst") + text[i + 1 :]


def people() -> tuple[dict[int, dict], dict[int, int]]:
    """300 people (a shared pool of names, 40 postcodes), 60 with a duplicate holding one typo, one with names swapped."""
    rng = random.Random(3)
    records, person = {}, {}
    for p in range(300):
        records[p] = {"given_name": rng.choice(GIVEN), "surname": rng.choice(FAMILY), "postcode": str(2000 + rng.randrange(40)),
                      "date_of_birth": f"19{rng.randrange(40, 99)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"}
        person[p] = p
    for p in range(60):
        copy = dict(records[p])
        field = rng.choice(["given_name", "surname", "postcode"])
        copy[field] = _typo(rng, copy[field])
        records[300 + p], person[300 + p] = copy, p
    # Person 299's second record: given name and surname swapped, and another postcode (moved house).
    swapped = dict(records[299], given_name=records[299]["surname"], surname=records[299]["given_name"], postcode="2999")
    records[999], person[999] = swapped, 299
    return records, person


def test_the_names_pair_is_found_by_attribute_names_only_where_both_kinds_exist():
    def specs(*names):
        return [AttributeSpec(n, "ShortString") for n in names]

    assert person_name_pair(specs("given_name", "surname", "suburb")) == ("given_name", "surname")
    assert person_name_pair(specs("fname_c1", "fname_c2", "lname_c1")) == ("fname_c1", "lname_c1")
    assert person_name_pair(specs("firstName", "lastName")) == ("firstName", "lastName")
    assert person_name_pair(specs("name", "manufacturer")) is None
    assert person_name_pair(specs("title", "authors", "venue")) is None
    assert person_name_pair([AttributeSpec("first_seen", "DateTime"), AttributeSpec("surname", "ShortString")]) is None


@pytest.mark.parametrize("a, b", [(("ryan", "campbell"), ("rian", "campbel")), (("ryan", "campbell"), ("mary", "jones")),
                                  (("ryan", None), ("campbell", "ryan")), (("ryan", "campbell"), ("ryan", None)),
                                  (("thomas", "huber"), ("guenther", "thomas"))])  # one name in both roles: chance
def test_unswapped_or_incomplete_names_keep_the_straight_distance(a, b):
    assert AlignedNameDistance()(a, b) == normalizedAffineGapDistance(a[0], b[0])


def test_swapped_names_compare_like_straight_ones():
    aligned = AlignedNameDistance()
    given, family = prepare_record(SPECS, {"given_name": "Ryan", "surname": "Campbell"}), prepare_record(
        SPECS, {"given_name": "Campbell", "surname": "Ryan"})
    assert aligned(given["given_name (aligned)"], family["given_name (aligned)"]) == normalizedAffineGapDistance("ryan", "ryan")
    assert aligned(given["surname (aligned)"], family["surname (aligned)"]) == normalizedAffineGapDistance("campbell", "campbell")


def test_a_person_whose_names_are_swapped_is_matched():
    records, person = people()
    # 30 true pairs (none swapped), 20 neighbours sharing a postcode: the labels hold no swapped pair.
    rng = random.Random(1)
    labels = [LabeledPair(p, 300 + p, True) for p in rng.sample(range(60), 30)]
    first_at: dict[str, int] = {}
    for i in range(300):
        postcode = records[i]["postcode"]
        if postcode in first_at and len(labels) < 50:
            labels.append(LabeledPair(first_at[postcode], i, False))
        first_at[postcode] = i
    learner = ActiveLearner(SPECS, records, seed=1, labels=labels)
    model = train_model(specs=SPECS, labels=labels, records=records, seed=1, learner=learner)
    matcher = Matcher.from_settings(model.settings)
    # Before, both name distances said "different": 0.016 for the same person, now 0.999.
    assert matcher.score_pair(records[299], records[999]) > matcher.threshold
    # Explanations name the attributes, not the derived fields.
    explained = matcher.explain(records[299], records[999])
    assert [c.attribute for c in explained] == [s.name for s in SPECS] + ["(baseline)"]
    assert all(isinstance(c, AttributeContribution) for c in explained)

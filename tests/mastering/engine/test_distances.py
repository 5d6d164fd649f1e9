"""The column-wise features equal dedupe's pair-by-pair ones, for every comparator and with missing values."""

import dedupe.datamodel
import numpy
import pytest

from mastering.engine._distances import distances
from mastering.engine.variables import AttributeSpec, prepare_record, to_dedupe_variables

SPECS = [
    AttributeSpec("name", "String"),
    AttributeSpec("given", "ShortString"),
    AttributeSpec("born", "DateTime"),
    AttributeSpec("about", "Text"),
    AttributeSpec("state", "Exact"),
    AttributeSpec("price", "Price"),
    AttributeSpec("where", "LatLong"),
    AttributeSpec("kind", "Categorical", categories=("a", "b", "c")),
    AttributeSpec("tags", "Set"),
    AttributeSpec("phone", "Exists"),
]

RAW = [
    {"name": "YMCA South Side", "given": "anna", "born": "1970-01-02", "about": "Sony KDL-46V4100 46in LCD television",
     "state": "nsw", "price": "$10.50", "where": "41.8, -87.6", "kind": "a", "tags": "red, blue", "phone": "555"},
    {"name": "YMCA of Metropolitan Chicago South Side", "given": "ana", "born": "02/01/1970",
     "about": "sony kdl46v4100 46 inch lcd tv", "state": "nsw", "price": "11", "where": "41.9, -87.7", "kind": "b",
     "tags": "blue", "phone": None},
    {"name": None, "given": "", "born": None, "about": None, "state": None, "price": None, "where": None, "kind": None,
     "tags": None, "phone": None},
    {"name": "south side ymca", "given": "Ánna", "born": "19700201", "about": "a television", "state": "vic",
     "price": "0", "where": "bad", "kind": "zzz", "tags": "green", "phone": "556"},
    {"name": "YMCA South Side", "given": "anna", "born": "1970-01-02", "about": "Sony KDL-46V4100 46in LCD television",
     "state": "nsw", "price": "$10.50", "where": "41.8, -87.6", "kind": "a", "tags": "red, blue", "phone": "555"},
]


@pytest.fixture
def data_model():
    corpus = [prepare_record(SPECS, raw) for raw in RAW]
    model = dedupe.datamodel.DataModel(to_dedupe_variables(SPECS, corpus=corpus))
    return model, corpus


@pytest.mark.parametrize("few_pairs", [0, 1000], ids=["column-wise", "pair-by-pair"])
def test_every_pair_equals_dedupes_features(data_model, few_pairs, monkeypatch):
    from mastering.engine import _distances

    monkeypatch.setattr(_distances, "FEW_PAIRS", few_pairs)
    model, records = data_model
    pairs = [(a, b) for a in range(len(records)) for b in range(len(records))]
    left, right = [records[a] for a, _ in pairs], [records[b] for _, b in pairs]
    ours = distances(model, left, right)
    theirs = model.distances(list(zip(left, right)))
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    # The fixture exercises missing values, exact matches and misses, so the comparison is not vacuous.
    assert (theirs == 0).any() and (theirs != 0).any()


def test_no_pairs_gives_an_empty_matrix(data_model):
    model, _ = data_model
    assert distances(model, [], []).shape == (0, len(model))


def test_word_weights_are_not_kept_between_calls(data_model):
    model, records = data_model
    distances(model, records, records[::-1])
    memoised = [v.comparator.vectors for v in model.field_variables if isinstance(getattr(v.comparator, "vectors", None), dict)]
    assert memoised and all(not vectors for vectors in memoised)

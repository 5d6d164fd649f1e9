"""The matching benchmark's data sets: how a link's two tables become one entity type, and pairwise scoring."""

import pytest

from curation import benchmarking
from mastering.mapping import mapped_records, projection_for
from mastering.models import SourceRecord


def _write(path, text: str):
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_pair_columns_maps_same_names_together_and_a_right_only_column_to_its_own_attribute():
    # abt_buy: the right table (Buy) has a manufacturer column the left (Abt) lacks.
    attributes, left, right = benchmarking.pair_columns(["name", "description", "price"],
                                                        ["name", "description", "manufacturer", "price"])
    assert attributes == ["name", "description", "price", "manufacturer"]
    assert left == {"name": "name", "description": "description", "price": "price"}
    assert right == {"name": "name", "description": "description", "manufacturer": "manufacturer", "price": "price"}


def test_pair_columns_pairs_leftover_columns_in_order():
    attributes, left, right = benchmarking.pair_columns(["title", "authors", "venue", "year"],
                                                        ["Title", "writers", "year", "booktitle", "pages"])
    assert attributes == ["title", "authors", "venue", "year", "pages"]
    # "Title" is the same name as "title"; writers and booktitle take the left's unclaimed authors and venue in order.
    assert right == {"Title": "title", "year": "year", "writers": "authors", "booktitle": "venue", "pages": "pages"}
    assert left == {c: c for c in ["title", "authors", "venue", "year"]}


def test_link_dataset_with_fields_keeps_only_those_attributes(tmp_path):
    left = _write(tmp_path / "left.csv", "id,name,price\na1,Sony TV,10")
    right = _write(tmp_path / "right.csv", "id,label,maker,price\nb1,sony tv,Sony,10")
    truth = _write(tmp_path / "truth.csv", "left_id,right_id\na1,b1")
    dataset = benchmarking.link_dataset(left, right, truth, fields=["name", "maker"])
    assert dataset.fields == ["name", "maker"]
    assert dataset.columns == {"left": {"name": "name"}, "right": {"label": "name", "maker": "maker"}}
    with pytest.raises(ValueError, match="'colour'"):
        benchmarking.link_dataset(left, right, truth, fields=["colour"])


@pytest.mark.django_db
def test_a_link_loads_the_right_tables_own_columns_into_the_entity_type(tmp_path):
    left = _write(tmp_path / "left.csv", """
id,name,description,price
a1,Sony Bravia 40in TV,LCD television,$499.00
a2,Canon EOS camera,digital SLR,NA
""")
    right = _write(tmp_path / "right.csv", """
id,title,description,manufacturer,price
b1,sony bravia 40 tv,lcd tv,Sony,489.99
b2,canon eos 400d,slr camera,Canon,
""")
    truth = _write(tmp_path / "truth.csv", "left_id,right_id\na1,b1\na2,b2")
    dataset = benchmarking.link_dataset(left, right, truth, fields=None, missing_values=["NA"])
    entity_type = benchmarking.load(dataset)
    assert [a.name for a in entity_type.attributes.order_by("position")] == ["name", "description", "price", "manufacturer"]
    values = mapped_records(projection_for(entity_type))
    by_key = {record.key: values[record.pk] for record in SourceRecord.objects.all()}
    assert by_key["b1"] == {"name": "sony bravia 40 tv", "description": "lcd tv", "price": "489.99", "manufacturer": "Sony"}
    assert by_key["a1"]["manufacturer"] is None
    assert by_key["a2"]["price"] is None  # NA means missing


def test_pairwise_quality_counts_only_cross_source_pairs_for_a_link():
    truth = {1: "x", 2: "x", 3: "x", 4: "y"}
    source_of = {1: "left", 2: "right", 3: "right", 4: "left"}
    # True cross-source pairs: (1, 2), (1, 3). Predicted: both of them, (3, 4) wrongly, and (2, 3), which is within a source.
    quality = benchmarking.pairwise_quality([[1, 2, 3], [3, 4]], truth=truth, source_of=source_of)
    assert quality == {"precision": 0.6667, "recall": 1.0, "f1": 0.8}
    assert benchmarking.pairwise_quality([], truth=truth, source_of=None) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_recall_by_cluster_size_counts_each_bands_true_pairs_found_together():
    # True clusters: a (2 records, found), b (3 records, split 2+1), c (6 records, all in one entity), d (1 record).
    truth = {1: "a", 2: "a", 3: "b", 4: "b", 5: "b", **{pk: "c" for pk in range(6, 12)}, 12: "d", 13: None}
    clusters = [[1, 2], [3, 4, 13], [6, 7, 8, 9, 10, 11, 12]]  # 5 is in no entity at all
    bands = benchmarking.recall_by_cluster_size(clusters, truth=truth)
    assert bands["2"] == {"clusters": 1, "true_pairs": 1, "recall": 1.0}
    assert bands["3-5"] == {"clusters": 1, "true_pairs": 3, "recall": round(1 / 3, 4)}
    assert bands["6-20"] == {"clusters": 1, "true_pairs": 15, "recall": 1.0}
    assert bands["101+"] == {"clusters": 0, "true_pairs": 0, "recall": None}

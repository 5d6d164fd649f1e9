"""Text similarity: pairs ranked for the first questions, and nearest neighbours compared by runs."""

from mastering.engine.similarity import neighbour_pairs, similar_pairs

PRODUCTS = {
    1: "sony bravia 46in lcd hdtv kdl-46v4100",
    2: "panasonic lumix dmc-fx500k digital camera",
    3: "linksys wrt54gl wireless-g broadband router",
    11: "sony kdl46v4100 46 bravia v series lcd television",
    12: "panasonic dmcfx500k 10mp camera black",
    13: "linksys wireless g router wrt54gl",
}
SOURCE = {1: "abt", 2: "abt", 3: "abt", 11: "buy", 12: "buy", 13: "buy"}


def test_nearest_neighbours_pair_products_across_sources_by_their_text():
    pairs = neighbour_pairs(PRODUCTS, group_of=SOURCE, neighbours=1)
    assert {(1, 11), (2, 12), (3, 13)} <= set(pairs)
    assert all(SOURCE[a] != SOURCE[b] for a, b in pairs)


def test_too_many_records_or_no_text_give_no_neighbours():
    assert neighbour_pairs({1: "", 2: ""}) == []
    assert neighbour_pairs({1: "only one"}) == []


def test_similar_pairs_rank_the_closest_first():
    records = {rid: {"name": text} for rid, text in PRODUCTS.items()}
    ranked = similar_pairs(records, ["name"], group_of=SOURCE, neighbours=1)
    assert {pair for pair, _ in ranked[:3]} == {(1, 11), (2, 12), (3, 13)}
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)

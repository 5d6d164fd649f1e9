import dedupe.variables
import pytest

from mastering.engine import COMPARATORS, AttributeSpec, infer_comparator, prepare_value, to_dedupe_variables
from mastering.engine.variables import prepare_record


def test_comparators_are_the_documented_ten():
    assert COMPARATORS == (
        "String", "ShortString", "Text", "Exact", "Price", "LatLong", "DateTime", "Categorical", "Set", "Exists",
    )


def test_attribute_spec_rejects_unknown_comparator_and_categorical_without_categories():
    with pytest.raises(ValueError, match="Unknown comparator"):
        AttributeSpec("name", "Fuzzy")
    with pytest.raises(ValueError, match="needs its categories"):
        AttributeSpec("kind", "Categorical")


def test_attribute_spec_round_trips_through_plain_data():
    spec = AttributeSpec("kind", "Categorical", has_missing=False, categories=("a", "b"))
    assert AttributeSpec.from_dict(spec.as_dict()) == spec


@pytest.mark.parametrize(
    ("comparator", "expected"),
    [
        ("ShortString", dedupe.variables.ShortString),
        ("Exact", dedupe.variables.Exact),
        ("Price", dedupe.variables.Price),
        ("LatLong", dedupe.variables.LatLong),
        ("DateTime", dedupe.variables.ShortString),
        ("Set", dedupe.variables.Set),
        ("Exists", dedupe.variables.Exists),
    ],
)
def test_to_dedupe_variables_maps_each_comparator(comparator, expected):
    (variable,) = to_dedupe_variables([AttributeSpec("x", comparator)])
    assert isinstance(variable, expected)
    assert variable.field == "x"
    assert variable.has_missing is True


def test_text_gets_words_characters_and_the_codes_in_it():
    specs = [AttributeSpec("name", "Text")]
    corpus = [prepare_record(specs, {"name": "Sony Bravia KDL-46V4100 LCD TV"}), prepare_record(specs, {"name": "Tivo TCD652160"})]
    assert corpus[0]["name (codes)"] == ("kdl46v4100",)
    variables = to_dedupe_variables(specs, corpus=corpus)
    assert [type(v) for v in variables] == [dedupe.variables.Text, dedupe.variables.Text, dedupe.variables.Set]
    assert [v.field for v in variables] == ["name", "name", "name (codes)"]
    characters = variables[1].comparator
    assert characters("kdl46v4100 sony", "sony kdl 46v4100") > 0.5 > characters("kdl46v4100 sony", "tivo tcd652160")


def test_string_gets_an_edit_distance_and_a_word_view():
    variables = to_dedupe_variables([AttributeSpec("name", "String")], corpus=[{"name": "acme pty ltd"}])
    assert [type(v) for v in variables] == [dedupe.variables.String, dedupe.variables.Text]
    assert {v.field for v in variables} == {"name"}
    assert len({v.name for v in variables}) == 2


def test_categorical_variable_uses_the_declared_categories():
    (variable,) = to_dedupe_variables([AttributeSpec("kind", "Categorical", categories=("shop", "school"))])
    assert isinstance(variable, dedupe.variables.Categorical)


def test_to_dedupe_variables_refuses_duplicate_or_no_attributes():
    with pytest.raises(ValueError, match="unique"):
        to_dedupe_variables([AttributeSpec("a", "String"), AttributeSpec("a", "Exact")])
    with pytest.raises(ValueError, match="At least one"):
        to_dedupe_variables([])


@pytest.mark.parametrize(
    ("comparator", "raw", "expected"),
    [
        ("String", "  Acme   Pty\nLtd ", "acme pty ltd"),
        ("ShortString", "Zoë", "zoe"),
        ("String", "   ", None),
        ("String", None, None),
        ("Exact", " NSW ", "nsw"),
        ("Price", "$1,250.50", 1250.5),
        ("Price", "0", None),
        ("Price", "free", None),
        ("Price", 12, 12.0),
        ("LatLong", "-33.86, 151.21", (-33.86, 151.21)),
        ("LatLong", "(48.85 2.35)", (48.85, 2.35)),
        ("LatLong", "north pole", None),
        ("LatLong", (1, 2), (1.0, 2.0)),
        ("Set", "Smith, J.; Jones, K.", ("j.", "jones", "k.", "smith")),
        ("Set", "red green red", ("green", "red")),
        ("Set", ["B", "a"], ("a", "b")),
        ("DateTime", "1985-03-14", "19850314"),
        ("DateTime", "14/03/1985", "19850314"),
        ("DateTime", "19850314", "19850314"),
        ("DateTime", "19851314", "19851314"),
        ("Exists", "anything", "anything"),
    ],
)
def test_prepare_value(comparator, raw, expected):
    assert prepare_value(AttributeSpec("x", comparator), raw) == expected


def test_prepare_value_drops_undeclared_categories():
    spec = AttributeSpec("kind", "Categorical", categories=("shop", "school"))
    assert prepare_value(spec, " shop ") == "shop"
    assert prepare_value(spec, "farm") is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1985-03-14", "2001-12-01", None, "1999-01-31"], "DateTime"),
        (["19850314", "20011201", "19990131"], "DateTime"),
        (["$12.50", "$3.99", "$100.00"], "Price"),
        (["-33.86,151.21", "40.71,-74.00"], "LatLong"),
        (["nsw", "vic", "qld"] * 10, "Exact"),
        (["6988048", "7364009", "1234567", "7654321"], "ShortString"),
        (["Alice", "Bob", "Carla"], "ShortString"),
        (["12 Baker Street", "4 Elm Avenue", "88 Harbour Road"], "String"),
        (["A study of entity resolution methods for large scale data integration"] * 3, "Text"),
        ([None, "", "  "], "ShortString"),
    ],
)
def test_infer_comparator(values, expected):
    assert infer_comparator(values) == expected

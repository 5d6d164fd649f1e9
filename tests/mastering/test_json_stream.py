"""The streaming JSON array decoder agrees with json.loads, wherever the read blocks cut the text."""

import io
import json
import random

import pytest

from mastering.ingest import json_stream

LOADS = {"parse_float": str, "parse_int": str, "parse_constant": str}


def random_value(rng: random.Random, depth: int = 0):
    kind = rng.choice(["int", "float", "string", "literal", "list", "object"] if depth < 3 else ["int", "float", "string"])
    if kind == "int":
        return rng.choice([0, -7, 12345678901234567890123, rng.randint(-10**6, 10**6)])
    if kind == "float":
        return rng.choice([1.5, -0.25, 1e-7, 6.02e23, 1.0, -3.14159])
    if kind == "string":
        return "".join(rng.choice(['a', 'é', '"', '\\', '\n', '\t', '😀', '\u2028', ' ', '/']) for _ in range(rng.randint(0, 12)))
    if kind == "literal":
        return rng.choice([True, False, None])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {f"k{i}": random_value(rng, depth + 1) for i in range(rng.randint(0, 3))}


def decode(text: str) -> list:
    return list(json_stream.array_items(io.StringIO(text)))


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 64, 1 << 20])
def test_any_array_decodes_as_json_loads_would(monkeypatch, block):
    monkeypatch.setattr(json_stream, "BLOCK_CHARS", block)
    rng = random.Random(block)
    for _ in range(60):
        items = [random_value(rng) for _ in range(rng.randint(0, 8))]
        text = json.dumps(items, indent=rng.choice([None, 1, 4]), ensure_ascii=rng.random() < 0.5)
        text = text.replace("1.5", "1.50e+0").replace("NaN", "NaN")  # exponents cut after "e" or "+"
        assert decode(text) == json.loads(text, **LOADS), text


@pytest.mark.parametrize("block", [1, 2, 3, 4, 7])
def test_bare_numbers_cut_anywhere_stay_whole(monkeypatch, block):
    monkeypatch.setattr(json_stream, "BLOCK_CHARS", block)
    text = "[1.5, -0.25e-3, 12345678901234567890, 6.02E+23, NaN, -Infinity, 7]"
    assert decode(text) == ["1.5", "-0.25e-3", "12345678901234567890", "6.02E+23", "NaN", "-Infinity", "7"]


def test_a_syntax_error_early_in_a_large_file_is_reported_where_it_is(monkeypatch):
    monkeypatch.setattr(json_stream, "MAX_ITEM_CHARS", 1000)
    monkeypatch.setattr(json_stream, "BLOCK_CHARS", 100)
    text = '[{"id": 1},\n{"id": 2 "name": "x"},\n' + ",\n".join('{"id": 3}' for _ in range(500)) + "]"
    with pytest.raises(json_stream.JsonError, match=r"Expecting ',' delimiter \(line 2\)"):
        decode(text)


def test_an_item_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(json_stream, "MAX_ITEM_CHARS", 1000)
    monkeypatch.setattr(json_stream, "BLOCK_CHARS", 100)
    with pytest.raises(json_stream.ItemTooLarge):
        decode('[{"note": "' + "x" * 5000 + '"}]')


def test_numbers_of_any_length_are_text():
    assert decode("[" + "9" * 5000 + "]") == ["9" * 5000]
    assert json_stream.loads('{"n": ' + "9" * 5000 + "}") == {"n": "9" * 5000}

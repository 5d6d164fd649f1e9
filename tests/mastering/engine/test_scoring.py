import numpy

from mastering.engine import SCORE_DTYPE, BlockKey, Matcher

from .people import RECORDS


def test_blocking_keys_name_a_predicate_a_key_and_a_record(trained):
    keys = list(trained.matcher.blocking_keys(RECORDS))
    names = trained.matcher.predicates()
    assert keys and all(isinstance(k, BlockKey) for k in keys)
    assert {k.predicate for k in keys} <= set(range(len(names)))
    assert {k.record_id for k in keys} <= set(RECORDS)
    assert all(isinstance(k.key, str) and k.key for k in keys)
    # The same person's two records share at least one block.
    blocks = {}
    for k in keys:
        blocks.setdefault((k.predicate, k.key), set()).add(k.record_id)
    assert any({100, 101} <= members for members in blocks.values())


def test_blocking_keys_match_dedupes_own_fingerprinter(trained):
    matcher = trained.matcher
    prepared = matcher.prepare(RECORDS)
    ours = {(f"{k.key}:{k.predicate}", k.record_id) for k in matcher.blocking_keys(prepared, prepared=True)}
    fingerprinter = __import__("dedupe").blocking.Fingerprinter(matcher._predicates)
    assert ours == set(fingerprinter(prepared.items()))


def test_scores_come_in_chunks_of_probabilities(trained):
    pairs = [(100, 101), (100, 127), (103, 104), (103, 128), (110, 111)]
    chunks = list(trained.matcher.score(pairs, RECORDS, chunk_size=2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    scored = numpy.concatenate(chunks)
    assert scored.dtype == SCORE_DTYPE
    assert scored["pairs"].tolist() == [list(p) for p in pairs]
    assert ((scored["score"] >= 0) & (scored["score"] <= 1)).all()
    score = dict(zip(map(tuple, scored["pairs"].tolist()), scored["score"].tolist()))
    assert score[(100, 101)] > trained.matcher.threshold > score[(100, 127)]


def test_settings_round_trip_gives_the_same_scores(trained):
    pairs = numpy.array([(a, b) for a in range(100, 120) for b in range(a + 1, 120)])
    again = Matcher.from_settings(bytes(trained.model.settings))
    first = numpy.concatenate(list(trained.matcher.score(pairs, RECORDS)))
    second = numpy.concatenate(list(again.score(pairs, RECORDS)))
    assert numpy.array_equal(first, second)
    assert again.predicates() == trained.matcher.predicates()


def test_parallel_scoring_matches_serial(trained):
    pairs = numpy.array([(a, b) for a in range(100, 140) for b in range(a + 1, 140)])
    serial = numpy.concatenate(list(trained.matcher.score(pairs, RECORDS, chunk_size=100)))
    forked = Matcher.from_settings(trained.model.settings, num_workers=2)
    parallel = numpy.concatenate(list(forked.score(pairs, RECORDS, chunk_size=100)))
    assert numpy.array_equal(serial, parallel)


def test_explain_gives_each_attribute_a_share_of_the_score(trained):
    matcher = trained.matcher
    same, other = RECORDS[100], RECORDS[127]
    explanation = matcher.explain(same, RECORDS[101])
    assert [c.attribute for c in explanation][:-1] == [f for f in matcher.fields]
    assert explanation[-1].attribute == "(baseline)"
    log_odds = sum(c.contribution for c in explanation)
    probability = 1 / (1 + numpy.exp(-log_odds))
    assert abs(probability - matcher.score_pair(same, RECORDS[101])) < 1e-3
    assert sum(c.contribution for c in matcher.explain(same, other)) < log_odds


def test_explain_marks_missing_values(trained):
    explanation = trained.matcher.explain(RECORDS[100], RECORDS[102])
    phone = [c for c in explanation if c.attribute == "phone"]
    assert phone and all(c.distance is None for c in phone)


def test_scoring_leaves_no_per_string_cache_behind(trained):
    # A matcher is cached per model version for a worker's lifetime; its memory must not grow with use.
    pairs = [(a, b) for a in range(100, 140) for b in range(a + 1, 140)]
    list(trained.matcher.score(pairs, RECORDS))
    caches = [v.comparator.vectors for v in trained.matcher.data_model.field_variables if hasattr(v.comparator, "vectors")]
    assert caches and all(not cache for cache in caches)


def test_prepared_values_are_kept_between_calls_and_prepare_the_same(trained):
    from mastering.engine.variables import prepare_records

    matcher = Matcher.from_settings(bytes(trained.model.settings))
    first = matcher.prepare(RECORDS)
    assert matcher._prepared_values  # kept for the next call (a run's next slice or chunk)
    assert matcher.prepare(RECORDS) == first == prepare_records(matcher.specs, RECORDS)


def test_only_the_matcher_used_last_keeps_prepared_values(trained):
    """A process caches a matcher per model version; their prepared values would add up without this."""
    older, newer = (Matcher.from_settings(bytes(trained.model.settings)) for _ in range(2))
    older.prepare(RECORDS)
    newer.prepare(RECORDS)
    assert newer._prepared_values and not older._prepared_values

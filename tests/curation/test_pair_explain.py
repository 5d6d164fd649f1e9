from curation import pair_explain
from curation.pair_explain import CHANGED, ONLY_HERE, SAME, Segment
from mastering.dates import looks_like_date_attribute, parse_date, to_iso_date
from mastering.mapping import apply_transforms


def test_char_diff_marks_the_changed_letters_only():
    left, right = pair_explain.char_diff("ballanfyne", "ballantyne")
    assert left == [Segment("ballan", SAME), Segment("f", CHANGED), Segment("yne", SAME)]
    assert right == [Segment("ballan", SAME), Segment("t", CHANGED), Segment("yne", SAME)]


def test_char_diff_marks_text_on_one_side_only():
    left, right = pair_explain.char_diff("150 collins st", "150 collins street")
    assert left == [Segment("150 collins st", SAME)]
    assert right == [Segment("150 collins st", SAME), Segment("reet", ONLY_HERE)]


def test_dates_in_common_formats_parse_to_one_iso_date():
    for text in ("2001-09-09", "20010909", "09/09/2001", "9 Sep 2001", "September 9, 2001", "2001-09-09T00:00:00"):
        assert to_iso_date(text) == "2001-09-09", text
    assert parse_date("03/04/2001").isoformat() == "2001-04-03"  # day first when ambiguous
    assert parse_date("12/31/2001").isoformat() == "2001-12-31"  # month first when only that fits


def test_text_that_is_no_date_is_kept_by_the_transform():
    assert to_iso_date("unknown") == "unknown"
    assert to_iso_date("00000000") == "00000000"
    assert to_iso_date("20011340") == "20011340"


def test_iso_date_transform_makes_two_sources_compare_equal():
    assert apply_transforms("20010909", ["trim", "iso_date"]) == apply_transforms(" 2001-09-09 ", ["trim", "iso_date"])


def test_date_attribute_names():
    assert looks_like_date_attribute("date_of_birth") and looks_like_date_attribute("dob")
    assert not looks_like_date_attribute("suburb") and not looks_like_date_attribute("update_count")


def test_display_value_formats_dates_and_leaves_other_text():
    assert pair_explain.display_value("20010909", is_date=True) == "9 Sep 2001"
    assert pair_explain.display_value("n/a", is_date=True) == "n/a"
    assert pair_explain.display_value("20010909", is_date=False) == "20010909"


def test_reason_says_cold_start_before_any_model():
    reason, detail = pair_explain.pair_reason(origin="active_learning", proposed_by_version=None, score_then=None, other_answers=0,
                                              answers_needed=1, current_version=None, score_now=None)
    assert reason == "Uncertain (cold start)" and "before any model was trained" in detail


def test_reason_names_the_model_that_was_unsure_and_what_the_current_one_says():
    reason, detail = pair_explain.pair_reason(origin="active_learning", proposed_by_version=2, score_then=0.48, other_answers=0,
                                              answers_needed=1, current_version=3, score_now=0.94)
    assert reason == "Uncertain"
    assert "model v2 was unsure" in detail and "48%" in detail and "Model v3, trained since, says 94%" in detail


def test_reason_in_blind_mode_shows_no_score():
    _, detail = pair_explain.pair_reason(origin="active_learning", proposed_by_version=2, score_then=0.48, other_answers=0,
                                         answers_needed=1, current_version=3, score_now=0.94, blind=True)
    assert "%" not in detail


def test_reason_for_random_similar_and_second_opinion():
    assert pair_explain.pair_reason(origin="random", proposed_by_version=1, score_then=0.9, other_answers=0, answers_needed=1,
                                    current_version=1, score_now=0.9)[0] == "Random check"
    assert pair_explain.pair_reason(origin="similar_text", proposed_by_version=None, score_then=None, other_answers=0,
                                    answers_needed=1, current_version=None, score_now=None)[0] == "Cold start"
    reason, detail = pair_explain.pair_reason(origin="random", proposed_by_version=None, score_then=None, other_answers=1,
                                              answers_needed=2, current_version=None, score_now=None)
    assert reason == "Second opinion" and "1 other answer already given" in detail


def test_score_in_words_says_the_band_and_the_threshold_side():
    assert pair_explain.score_in_words(0.94, 0.5) == ("94% likely the same: very likely the same. "
                                                      "A mastering run (threshold 50%) would put them in one entity.")
    assert "unsure" in pair_explain.score_in_words(0.5, None)
    assert pair_explain.score_in_words(0.999, None).startswith("over 99% likely")
    assert "would keep them apart" in pair_explain.score_in_words(0.2, 0.5)


def test_effect_compares_with_identical_values_so_exact_matches_are_never_negative():
    assert pair_explain.effect_in_words(contribution=-0.4, identical=-0.4, left="ada", right="ada") == (
        "effect-up", "counts toward a match")
    css, words = pair_explain.effect_in_words(contribution=-3.4, identical=-0.4, left="ada", right="bob")
    assert css == "effect-down" and words == "odds of a match 20× lower than if identical"
    css, words = pair_explain.effect_in_words(contribution=-1.0, identical=-0.4, left=None, right="bob")
    assert words.startswith("missing on one side: ")


def test_effect_of_a_difference_the_model_ignores_is_not_called_a_sign_of_a_match():
    css, words = pair_explain.effect_in_words(contribution=-0.41, identical=-0.4, left="ada", right="adx", differs=True)
    assert (css, words) == ("", "differs, but the model weighs it as if identical")

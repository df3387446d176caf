"""Pure analysis functions against published reference results (reference/stats-reference-notes.md)."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from stats.analysis import (
    AnalysisInputError,
    ItemSpec,
    TestStatus,
    adjust_pvalues,
    analyze_items,
    dunn_posthoc,
    evaluate_hypothesis,
    format_kruskal_apa,
    format_p,
    kruskal_wallis,
    likert_summary,
    reverse_code,
    validate_hypothesis,
)

DATA = Path(__file__).parent / "data"


def sig6(value: float) -> float:
    return float(f"{value:.6g}")


# --- Kruskal-Wallis reference results -------------------------------------------------------------
def test_hollander_wolfe_example_matches_r_to_six_digits():
    result = kruskal_wallis(
        {"x": [2.9, 3.0, 2.5, 2.6, 3.2], "y": [3.8, 2.7, 4.0, 2.4], "z": [2.8, 3.4, 3.7, 2.2, 2.0]}
    )
    assert result.status == TestStatus.OK
    assert sig6(result.h) == 0.771429
    assert result.df == 2
    assert sig6(result.p) == 0.679965
    assert result.n_total == 14
    assert {name: g.n for name, g in result.groups.items()} == {"x": 5, "y": 4, "z": 5}


def test_airquality_ozone_by_month_matches_r_to_six_digits():
    by_month: dict[str, list] = {}
    with open(DATA / "airquality.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            by_month.setdefault(row["Month"], []).append(None if row["Ozone"] in ("", "NA") else row["Ozone"])
    # R drops the 37 NA rows; here dropping must be asked for explicitly.
    assert kruskal_wallis(by_month).status == TestStatus.MISSING_VALUES
    result = kruskal_wallis(by_month, missing="drop")
    assert result.status == TestStatus.OK
    assert result.n_total == 116
    assert sum(g.n_missing for g in result.groups.values()) == 37
    assert sig6(result.h) == 29.2666
    assert result.df == 4
    assert sig6(result.p) == 6.90071e-06


def test_scipy_tie_example_matches_to_six_digits():
    result = kruskal_wallis({"a": [1, 1, 1], "b": [2, 2, 2], "c": [2, 2]})
    assert sig6(result.h) == 7.0
    assert result.df == 2
    assert sig6(result.p) == 0.0301974


def test_agrees_with_scipy_and_with_mann_whitney_for_two_groups():
    rng = np.random.default_rng(3)
    a, b = rng.integers(1, 8, 40), rng.integers(2, 8, 35)
    result = kruskal_wallis({"a": a.tolist(), "b": b.tolist()})
    reference = scipy_stats.kruskal(a, b)
    assert result.h == pytest.approx(reference.statistic, rel=1e-12)
    assert result.p == pytest.approx(reference.pvalue, rel=1e-12)
    mw = scipy_stats.mannwhitneyu(a, b, use_continuity=False, method="asymptotic")
    z = scipy_stats.norm.isf(mw.pvalue / 2)
    assert result.h == pytest.approx(z**2, rel=1e-9)


def test_effect_sizes_follow_their_definitions():
    groups = {"x": [2.9, 3.0, 2.5, 2.6, 3.2], "y": [3.8, 2.7, 4.0, 2.4], "z": [2.8, 3.4, 3.7, 2.2, 2.0]}
    result = kruskal_wallis(groups)
    assert result.epsilon_squared == pytest.approx(result.h / 13)
    # (H - k + 1)/(N - k) is negative here; it is floored at zero, never reported below.
    assert (result.h - 2) / 11 < 0
    assert result.eta_squared_h == 0.0
    separated = kruskal_wallis({"a": [1, 2, 2, 3, 1, 2], "b": [6, 7, 7, 5, 6, 7]})
    assert separated.eta_squared_h == pytest.approx((separated.h - 1) / 10)
    assert 0 < separated.epsilon_squared <= 1


def test_mean_ranks_medians_and_iqrs_per_group():
    result = kruskal_wallis({"a": [1, 2, 3, 4], "b": [5, 6, 7, 8]})
    assert result.groups["a"].mean_rank == 2.5
    assert result.groups["b"].mean_rank == 6.5
    assert result.groups["a"].median == 2.5
    assert result.groups["a"].iqr == pytest.approx(np.quantile([1, 2, 3, 4], 0.75) - np.quantile([1, 2, 3, 4], 0.25))


# --- degenerate input is a status, never inf or NaN -----------------------------------------------
@pytest.mark.parametrize("sizes", [(5, 20), (3, 3), (1, 30)])
def test_identical_responses_report_no_variance_instead_of_infinite_h(sizes):
    result = kruskal_wallis({"a": [5] * sizes[0], "b": [5] * sizes[1]})
    assert result.status == TestStatus.NO_VARIANCE
    assert result.h is None and result.p is None
    assert "no variance" in result.message
    assert not result.ok


def test_fewer_than_two_non_empty_groups_is_reported():
    assert kruskal_wallis({"a": [1, 2, 3]}).status == TestStatus.TOO_FEW_GROUPS
    empty = kruskal_wallis({"a": [1, 2, 3], "b": []})
    assert empty.status == TestStatus.TOO_FEW_GROUPS
    assert empty.groups["b"].n == 0 and empty.groups["b"].median is None
    assert kruskal_wallis({}).status == TestStatus.TOO_FEW_GROUPS


def test_an_empty_third_group_is_left_out_and_named():
    result = kruskal_wallis({"a": [1, 2, 3, 4, 5], "b": [3, 4, 5, 6, 7], "c": []})
    assert result.ok and result.df == 1
    assert any("No responses in c" in w for w in result.warnings)


def test_nan_is_rejected_unless_dropped_explicitly():
    groups = {"a": [1, 2, float("nan"), 3, 2], "b": [4, 5, 6, 5, 7]}
    assert kruskal_wallis(groups).status == TestStatus.MISSING_VALUES
    dropped = kruskal_wallis(groups, missing="drop")
    assert dropped.ok and dropped.groups["a"].n == 4 and dropped.groups["a"].n_missing == 1
    assert math.isfinite(dropped.h) and math.isfinite(dropped.p)
    with pytest.raises(AnalysisInputError, match="missing must be"):
        kruskal_wallis(groups, missing="ignore")


def test_non_numeric_values_raise_a_clear_error():
    with pytest.raises(AnalysisInputError, match="'agree' is not a numeric response"):
        kruskal_wallis({"a": [1, 2, "agree"], "b": [3, 4, 5]})
    with pytest.raises(AnalysisInputError, match="infinite"):
        kruskal_wallis({"a": [1, 2, float("inf")], "b": [3, 4, 5]})


def test_small_groups_carry_a_warning_about_the_chi_square_approximation():
    result = kruskal_wallis({"a": [1, 2, 3], "b": [5, 6, 7, 5, 6]})
    assert any("chi-square approximation is poor" in w for w in result.warnings)


# --- corrections ----------------------------------------------------------------------------------
TEST_VECTOR = [0.01, 0.04, 0.03, 0.005, 0.5, 0.2]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("bonferroni", [0.06, 0.24, 0.18, 0.03, 1.0, 1.0]),
        ("holm", [0.05, 0.12, 0.12, 0.03, 0.5, 0.4]),
        ("fdr_bh", [0.03, 0.06, 0.06, 0.03, 0.5, 0.24]),
    ],
)
def test_multipletests_reference_vector(method, expected):
    assert adjust_pvalues(TEST_VECTOR, method) == pytest.approx(expected, abs=1e-12)


def test_seed_arms_statement_bonferroni_over_six_statements():
    # Seed section 3.3: H(1) = 8.86, Bonferroni over six statements -> 0.0174893 (paper: 0.018).
    raw = scipy_stats.chi2.sf(8.86, 1)
    assert sig6(raw) == 0.00291488
    adjusted = adjust_pvalues([raw, 0.5, 0.6, 0.7, 0.8, 0.9], "bonferroni")
    assert sig6(adjusted[0]) == 0.0174893


def test_missing_pvalues_are_left_out_of_the_family():
    adjusted = adjust_pvalues([0.01, None, float("nan"), 0.02], "bonferroni")
    assert adjusted[1] is None and adjusted[2] is None
    assert adjusted[0] == pytest.approx(0.02) and adjusted[3] == pytest.approx(0.04)
    bh = adjust_pvalues([0.01, float("nan"), 0.04], "fdr_bh")
    assert bh[0] == pytest.approx(0.02) and bh[2] == pytest.approx(0.04)


def test_unknown_correction_and_bad_pvalues_raise_clear_errors():
    with pytest.raises(AnalysisInputError, match="Unknown correction method 'sidak'.*bonferroni, holm, fdr_bh"):
        adjust_pvalues([0.01], "sidak")
    with pytest.raises(AnalysisInputError, match="outside"):
        adjust_pvalues([1.5], "holm")


# --- Dunn -----------------------------------------------------------------------------------------
def test_dunn_adjusts_for_more_than_two_groups():
    groups = {"a": [1, 2, 2, 3, 1, 2, 3], "b": [4, 4, 5, 3, 4, 5, 4], "c": [6, 7, 7, 5, 6, 7, 6]}
    pairs = dunn_posthoc(groups, p_adjust="bonferroni")
    assert [(p["a"], p["b"]) for p in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    for pair in pairs:
        assert pair["p_adjusted"] == pytest.approx(min(1.0, 3 * pair["p"]))
    assert pairs[1]["p"] < pairs[0]["p"]  # a vs c is the largest difference
    two = dunn_posthoc({"a": groups["a"], "c": groups["c"]})
    assert two[0]["p"] == two[0]["p_adjusted"]


# --- Likert ---------------------------------------------------------------------------------------
def test_seven_point_summary_splits_1_to_3_4_and_5_to_7():
    summary = likert_summary([1, 2, 3, 4, 4, 5, 6, 7, 7, 7], 7)
    assert summary["counts"] == [1, 1, 1, 2, 1, 1, 3]
    assert summary["pct_disagree"] == pytest.approx(30.0)
    assert summary["pct_neutral"] == pytest.approx(20.0)
    assert summary["pct_agree"] == pytest.approx(50.0)
    assert sum(summary["percentages"]) == pytest.approx(100.0)


@pytest.mark.parametrize("points", [3, 5, 9, 11])
def test_any_odd_scale_has_a_single_neutral_middle(points):
    middle = (points + 1) // 2
    summary = likert_summary(list(range(1, points + 1)), points)
    assert summary["pct_neutral"] == pytest.approx(100.0 / points)
    assert summary["pct_disagree"] == pytest.approx(100.0 * (middle - 1) / points)
    assert summary["pct_agree"] == summary["pct_disagree"]


def test_likert_rejects_even_scales_and_out_of_range_answers():
    with pytest.raises(AnalysisInputError, match="odd"):
        likert_summary([1, 2], 6)
    with pytest.raises(AnalysisInputError, match="not a point of the 1..7 scale"):
        likert_summary([1, 8], 7)
    with pytest.raises(AnalysisInputError, match="not a point"):
        likert_summary([2.5], 7)


def test_reverse_coding_mirrors_the_scale():
    assert reverse_code([1, 4, 7], 7) == [7, 4, 1]


def test_apa_formatting():
    assert format_p(0.0291) == ".029"
    assert format_p(0.0004) == "< .001"
    assert format_kruskal_apa(7.1, 2, 90, 0.029) == "H(2, N = 90) = 7.10, p = .029"
    assert format_kruskal_apa(30.0, 1, 60, 1e-6) == "H(1, N = 60) = 30.00, p < .001"


# --- a questionnaire ------------------------------------------------------------------------------
def _items():
    return [
        ItemSpec("arms", "arms matter", "pattern"),
        ItemSpec("color", "colour matters", "pattern"),
        ItemSpec("bg", "background matters", "pattern", reverse_coded=True),
        ItemSpec("helpful", "helpful", "satisfaction"),
    ]


def _answers():
    return {
        "arms": {"cf": [7, 7, 7, 6, 7, 7, 6, 7], "bl": [5, 6, 4, 5, 6, 3, 5, 6]},
        "color": {"cf": [5, 6, 4, 3, 5, 6, 2, 5], "bl": [3, 4, 5, 2, 5, 6, 3, 4]},
        "bg": {"cf": [1, 1, 2, 1, 2, 1, 1, 2], "bl": [2, 1, 1, 3, 1, 2, 1, 1]},
        "helpful": {"cf": [7, 7, 6, 7, 6, 7, 7, 7], "bl": [7, 6, 7, 7, 6, 7, 7, 6]},
    }


def test_families_default_to_item_groups_and_correct_separately():
    result = analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers())
    assert result["families"] == {"pattern": ["arms", "color", "bg"], "satisfaction": ["helpful"]}
    by_key = {item["key"]: item for item in result["items"]}
    arms = by_key["arms"]["test"]
    assert arms["family_size"] == 3
    assert arms["p_adjusted"] == pytest.approx(min(1.0, 3 * arms["p"]))
    helpful = by_key["helpful"]["test"]
    assert helpful["family_size"] == 1 and helpful["p_adjusted"] == pytest.approx(helpful["p"])
    assert arms["significant"] is (arms["p_adjusted"] < 0.05)


def test_reverse_coded_items_are_recoded_before_summaries():
    result = analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers())
    bg = next(item for item in result["items"] if item["key"] == "bg")
    assert bg["conditions"]["cf"]["pct_agree"] == 100.0  # raw 1-2 become 6-7


def test_explicit_families_override_groups_and_are_validated():
    result = analyze_items(
        items=_items(), conditions=["cf", "bl"], answers=_answers(), families={"main": ["arms", "helpful"]}
    )
    fam = {item["key"]: item["family"] for item in result["items"]}
    assert fam == {"arms": "main", "color": "pattern", "bg": "pattern", "helpful": "main"}
    with pytest.raises(AnalysisInputError, match="unknown item 'nope'"):
        analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers(), families={"x": ["nope"]})


def test_items_without_answers_or_variance_are_never_significant():
    answers = _answers()
    answers["color"] = {"cf": [], "bl": []}
    answers["helpful"] = {"cf": [7] * 8, "bl": [7] * 8}
    result = analyze_items(items=_items(), conditions=["cf", "bl"], answers=answers)
    by_key = {item["key"]: item for item in result["items"]}
    assert by_key["color"]["test"]["status"] == "no_answers"
    assert by_key["helpful"]["test"]["status"] == TestStatus.NO_VARIANCE
    for key in ("color", "helpful"):
        assert by_key[key]["test"]["p"] is None and by_key[key]["test"]["significant"] is False
    assert by_key["arms"]["test"]["family_size"] == 2  # the untestable item does not count
    assert result["problems"] == ["No test possible: item 'color' has no answers."]


def test_one_condition_and_unknown_correction_are_refused():
    with pytest.raises(AnalysisInputError, match="at least two conditions"):
        analyze_items(items=_items(), conditions=["cf"], answers=_answers())
    with pytest.raises(AnalysisInputError, match="Unknown correction"):
        analyze_items(items=_items(), conditions=["cf", "bl"], answers=_answers(), correction="none")


def test_posthoc_runs_for_significant_items_with_three_conditions():
    items = [ItemSpec("arms", group="pattern")]
    answers = {"arms": {"a": [1, 2, 1, 2, 1, 2], "b": [4, 4, 3, 4, 5, 4], "c": [7, 6, 7, 7, 6, 7]}}
    result = analyze_items(items=items, conditions=["a", "b", "c"], answers=answers)
    assert result["items"][0]["test"]["significant"]
    assert len(result["items"][0]["posthoc"]) == 3


# --- hypotheses -----------------------------------------------------------------------------------
def test_proportion_hypothesis_verdicts_follow_the_threshold():
    values = {"arms": {"bl": [5, 6, 7, 4, 5, 6, 1, 5, 6, 7]}}
    confirmed = evaluate_hypothesis(
        "proportion_agree", {"item": "arms", "condition": "bl", "threshold": 0.8}, values=values,
        scale_points={"arms": 7},
    )
    assert confirmed["verdict"] == "confirmed" and confirmed["observed_pct"] == pytest.approx(80.0)
    rejected = evaluate_hypothesis(
        "proportion_agree", {"item": "arms", "condition": "bl", "threshold": 0.81}, values=values,
        scale_points={"arms": 7},
    )
    assert rejected["verdict"] == "rejected"
    disagree = evaluate_hypothesis(
        "proportion_agree", {"item": "arms", "condition": "bl", "threshold": 0.1, "side": "disagree"},
        values=values, scale_points={"arms": 7},
    )
    assert disagree["verdict"] == "confirmed" and disagree["observed_pct"] == pytest.approx(10.0)


def test_proportion_hypothesis_below_a_threshold_is_the_seeds_h2():
    """Appendix E, H2: the baseline does NOT let users detect the colour bias (43.33% agree < 50%)."""
    values = {"colour": {"bl": [5] * 13 + [4] * 2 + [2] * 15}}
    below = {"item": "colour", "condition": "bl", "threshold": 0.5, "comparison": "below"}
    result = evaluate_hypothesis("proportion_agree", below, values=values, scale_points={"colour": 7})
    assert result["verdict"] == "confirmed" and result["observed_pct"] == pytest.approx(43.3333, rel=1e-4)
    assert "below 50.00%" in result["statement"]
    majority = {"colour": {"bl": [6] * 16 + [2] * 14}}
    assert evaluate_hypothesis("proportion_agree", below, values=majority, scale_points={"colour": 7})[
        "verdict"] == "rejected"


def test_condition_greater_needs_significance_and_the_stated_direction():
    values = {"arms": {"cf": [7, 7, 7, 6, 7, 7, 6, 7, 7, 7], "bl": [5, 6, 4, 5, 6, 3, 5, 6, 4, 5]}}
    params = {"item": "arms", "higher": "cf", "lower": "bl", "alpha": 0.05}
    assert evaluate_hypothesis("condition_greater", params, values=values, scale_points={"arms": 7})[
        "verdict"] == "confirmed"
    reversed_params = {**params, "higher": "bl", "lower": "cf"}
    result = evaluate_hypothesis("condition_greater", reversed_params, values=values, scale_points={"arms": 7})
    assert result["verdict"] == "rejected" and result["direction_as_predicted"] is False
    one_sided = evaluate_hypothesis(
        "condition_greater", {**params, "test": "mann_whitney"}, values=values, scale_points={"arms": 7}
    )
    assert one_sided["verdict"] == "confirmed"
    same = {"arms": {"cf": [4] * 5, "bl": [4] * 5}}
    assert evaluate_hypothesis("condition_greater", params, values=same, scale_points={"arms": 7})[
        "verdict"] == "not_evaluable"


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("bigger", {}, "Unknown hypothesis kind"),
        ("proportion_agree", {"item": "arms", "condition": "cf"}, "numeric 'threshold'"),
        ("proportion_agree", {"item": "arms", "condition": "cf", "threshold": 80}, "threshold must be in"),
        ("proportion_agree", {"item": "arms", "condition": "cf", "threshold": 0.5, "comparison": "under"},
         "comparison must be"),
        ("condition_greater", {"item": "arms", "higher": "a", "lower": "a"}, "must differ"),
        ("condition_greater", {"item": "arms", "higher": "a", "lower": "b", "test": "t"}, "test must be"),
    ],
)
def test_bad_hypotheses_are_refused_with_a_reason(kind, params, message):
    with pytest.raises(AnalysisInputError, match=message):
        validate_hypothesis(kind, params)

"""Kruskal-Wallis against published reference results (reference/stats-reference-notes.md)."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.kruskal import TestStatus, kruskal_h, kruskal_wallis

from .reference import DATA, sig6


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


def test_batched_statistic_equals_one_study_at_a_time():
    rng = np.random.default_rng(7)
    studies = rng.integers(1, 8, size=(50, 30))
    h_batch, ranks_batch = kruskal_h(studies, [10, 12, 8])
    for row, h, ranks in zip(studies, h_batch, ranks_batch, strict=True):
        single = kruskal_wallis({"a": row[:10].tolist(), "b": row[10:22].tolist(), "c": row[22:].tolist()})
        assert h == pytest.approx(single.h, rel=1e-12)
        assert ranks.tolist() == pytest.approx([single.groups[g].mean_rank for g in "abc"], rel=1e-12)
    identical, _ = kruskal_h(np.full((2, 6), 4.0), [3, 3])
    assert np.isnan(identical).all()

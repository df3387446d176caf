"""Multiple-comparison corrections against the statsmodels reference vector and the seed's figures."""
from __future__ import annotations

import pytest
from scipy import stats as scipy_stats

from stats.analysis.cleaning import AnalysisInputError
from stats.analysis.corrections import adjust_pvalues

from .reference import sig6


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


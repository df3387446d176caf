"""Effect sizes with intervals: epsilon-squared bootstrap, Vargha-Delaney A, Cliff's delta, Hodges-Lehmann,
and Cronbach's alpha with the Feldt interval.

R references: wilcox.test(1:3, 4:6, conf.int = TRUE) gives the estimate -3 and, as 95% is not achievable
with 3 and 3, the interval [-5, -1] at an achieved 90% (the extreme pairwise differences); the
Mann-Whitney null distribution of 3 and 3 is pwilcox(0:3, 3, 3) = .05, .10, .20, .35.
"""
from __future__ import annotations

import numpy as np
import pytest

from stats.analysis.effect_sizes import (
    _mann_whitney_null_cdf,
    epsilon_squared_interval,
    hodges_lehmann,
    two_group_effects,
    vargha_delaney_a,
)
from stats.analysis.reliability import cronbach_alpha


def test_mann_whitney_null_distribution_is_rs_pwilcox():
    assert _mann_whitney_null_cdf(3, 3)[:4] == pytest.approx([0.05, 0.10, 0.20, 0.35])
    assert _mann_whitney_null_cdf(4, 4)[1] == pytest.approx(2 / 70)
    assert _mann_whitney_null_cdf(30, 30)[-1] == pytest.approx(1.0)


def test_hodges_lehmann_matches_r_for_the_three_vs_three_case():
    shift = hodges_lehmann([1, 2, 3], [4, 5, 6])
    assert (shift["estimate"], shift["low"], shift["high"]) == (-3.0, -5.0, -1.0)
    assert shift["achieved_confidence"] == pytest.approx(0.9)


def test_hodges_lehmann_recovers_a_shift_and_its_interval_covers_it():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 40)
    shift = hodges_lehmann(x + 1.5, x[::-1])
    assert shift["estimate"] == pytest.approx(1.5, abs=0.4) and shift["low"] < 1.5 < shift["high"]
    assert shift["achieved_confidence"] >= 0.95


def test_vargha_delaney_and_cliff():
    assert vargha_delaney_a([4, 5, 6], [1, 2, 3]) == 1.0
    assert vargha_delaney_a([1, 2], [1, 2]) == 0.5
    effects = two_group_effects([7, 7, 6], [5, 6, 4], first="cf", second="bl")
    assert effects["vargha_delaney_a"] == pytest.approx((8 + 0.5) / 9)
    assert effects["cliffs_delta"] == pytest.approx(2 * effects["vargha_delaney_a"] - 1)


def test_epsilon_squared_interval_is_seeded_and_brackets_the_estimate():
    groups = [[7, 7, 7, 6, 7, 7, 6, 7], [5, 6, 4, 5, 6, 3, 5, 6]]
    low, high = epsilon_squared_interval(groups, seed=1)
    assert epsilon_squared_interval(groups, seed=1) == [low, high]
    from scipy import stats as scipy_stats

    estimate = scipy_stats.kruskal(*groups).statistic / 15
    assert 0 <= low <= estimate <= high <= 1
    assert epsilon_squared_interval([[1, 2], []]) is None


def test_cronbach_alpha_and_its_feldt_interval():
    scores = np.array([[4, 5, 4], [2, 3, 3], [5, 5, 4], [3, 3, 2], [4, 4, 5], [1, 2, 2]], dtype=float)
    result = cronbach_alpha(scores)
    k = scores.shape[1]
    covariance = np.cov(scores, rowvar=False)
    expected = k / (k - 1) * (1 - np.trace(covariance) / covariance.sum())
    assert result["alpha"] == pytest.approx(expected)
    assert result["low"] < result["alpha"] < result["high"] <= 1
    # Feldt: (1 - alpha) / (1 - alpha_hat) ~ F(n - 1, (n - 1)(k - 1))
    from scipy import stats as scipy_stats

    assert result["low"] == pytest.approx(1 - (1 - expected) * scipy_stats.f.ppf(0.975, 5, 10))
    assert cronbach_alpha(np.ones((5, 3)))["alpha"] is None
    with pytest.raises(Exception, match="at least two items"):
        cronbach_alpha(np.ones((5, 1)))

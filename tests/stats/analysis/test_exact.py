"""Exact and permutation p values for small groups, checked against full enumeration and R's exact results.

R reference values (exact, conditional on the data):
- wilcox.test(c(1, 2, 3), c(4, 5, 6)) and exactRankTests::wilcox.exact(1:3, 4:6): W = 0, p-value = 0.1
- wilcox.test(1:4, 5:8): W = 0, p-value = 0.02857 (2/70)
- Kruskal-Wallis, three groups of three fully separated (H = 7.2): exact p = 6/1680 = 0.0036, the 0.004
  entry of the exact table (Iman, Quade & Alexander 1975; coin::kruskal_test(..., distribution =
  approximate(nresample = 1e6)) converges to it)
The enumeration below is written independently of stats.analysis.exact (itertools over every assignment).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from stats.analysis.exact import distinct_assignments, permutation_pvalue
from stats.analysis.questionnaire import ItemSpec, PValueSettings, analyze_items


def _enumerated_kruskal_p(groups):
    pooled = np.concatenate([np.asarray(g, float) for g in groups])
    sizes = [len(g) for g in groups]
    observed = scipy_stats.kruskal(*groups).statistic
    seen = set()
    extreme = total = 0
    for order in itertools.permutations(range(len(pooled))):
        parts, start = [], 0
        for size in sizes:
            parts.append(tuple(sorted(order[start:start + size])))
            start += size
        key = tuple(parts)
        if key in seen:
            continue
        seen.add(key)
        total += 1
        h = scipy_stats.kruskal(*[pooled[list(p)] for p in parts]).statistic
        extreme += h >= observed - 1e-9
    return extreme / total, total


@pytest.mark.parametrize(
    ("groups", "r_exact"),
    [
        (([1, 2, 3], [4, 5, 6]), 0.1),
        (([1, 1, 2], [3, 4, 4]), 0.1),
        (([1, 1, 1], [2, 2, 2]), 0.1),
        (([1, 2, 3, 4], [5, 6, 7, 8]), 2 / 70),
    ],
)
def test_two_small_groups_match_enumeration_and_r(groups, r_exact):
    result = permutation_pvalue(groups)
    enumerated, total = _enumerated_kruskal_p(groups)
    assert result["method"] == "exact" and result["assignments"] == total == math.comb(sum(map(len, groups)),
                                                                                        len(groups[0]))
    assert result["p"] == pytest.approx(enumerated) == pytest.approx(r_exact)
    assert permutation_pvalue(groups, test="mann_whitney")["p"] == pytest.approx(r_exact)


def test_three_vs_three_is_not_significant_although_the_approximation_says_so():
    """The issue's case: asymptotic p = .0495 (.025 with ties) but exact p = .10."""
    assert scipy_stats.kruskal([1, 2, 3], [4, 5, 6]).pvalue == pytest.approx(0.0495, abs=5e-4)
    assert scipy_stats.kruskal([1, 1, 1], [2, 2, 2]).pvalue == pytest.approx(0.0253, abs=5e-4)
    result = analyze_items(items=[ItemSpec("arms", group="pattern")], conditions=["cf", "bl"],
                           answers={"arms": {"cf": [5, 6, 7], "bl": [1, 2, 3]}})
    test = result["items"][0]["test"]
    assert test["p_method"] == "exact" and test["p"] == pytest.approx(0.1)
    assert test["p_asymptotic"] == pytest.approx(0.0495, abs=5e-4)
    assert test["significant"] is False and "exact (all 20 assignments)" in test["warnings"][0]


def test_three_groups_of_three_match_the_exact_table():
    groups = ([1, 2, 3], [4, 5, 6], [7, 8, 9])
    result = permutation_pvalue(groups)
    assert result["assignments"] == distinct_assignments([3, 3, 3]) == 1680
    assert result["p"] == pytest.approx(6 / 1680) and round(result["p"], 3) == 0.004


def test_large_samples_use_a_seeded_permutation_with_its_monte_carlo_error():
    rng = np.random.default_rng(1)
    groups = [rng.integers(1, 8, 12).tolist(), rng.integers(2, 8, 12).tolist(), rng.integers(1, 8, 12).tolist()]
    first = permutation_pvalue(groups, resamples=2000, seed=7, exact_limit=1000)
    again = permutation_pvalue(groups, resamples=2000, seed=7, exact_limit=1000)
    assert first == again and first["method"] == "permutation" and first["resamples"] == 2000
    assert first["mc_error"] == pytest.approx(math.sqrt(first["p"] * (1 - first["p"]) / 2000))
    asymptotic = scipy_stats.kruskal(*groups).pvalue
    assert abs(first["p"] - asymptotic) < 5 * first["mc_error"] + 0.02


def test_exact_on_request_and_one_sided_mann_whitney():
    settings = PValueSettings(exact="always", tests={"arms": {"test": "mann_whitney", "alternative": "greater"}})
    answers = {"arms": {"cf": [7, 7, 6, 7, 6, 7], "bl": [5, 4, 6, 3, 5, 4]}}
    test = analyze_items(items=[ItemSpec("arms")], conditions=["cf", "bl"], answers=answers,
                         settings=settings)["items"][0]["test"]
    assert test["name"] == "mann_whitney" and test["p_method"] == "exact"
    assert test["p"] == pytest.approx(scipy_stats.mannwhitneyu([7, 7, 6, 7, 6, 7], [5, 4, 6, 3, 5, 4],
                                                               alternative="greater", method="exact").pvalue,
                                      abs=0.01)
    with pytest.raises(Exception, match="two-sided"):
        permutation_pvalue([[1, 2], [3, 4]], alternative="greater")


def test_groups_of_one_answer_get_an_exact_p_instead_of_an_error():
    # scipy's permutation_test refuses one-answer groups; an interim look with one participant per
    # condition must still get an answer. [1, 2] vs [5]: the single answer is the most extreme of three.
    from stats.analysis.exact import permutation_pvalue

    result = permutation_pvalue([[1, 2], [5]])
    assert result["method"] == "exact" and result["assignments"] == 3
    assert result["p"] == pytest.approx(2 / 3)
    assert permutation_pvalue([[3], [5], [4]])["p"] == pytest.approx(1.0)
    assert permutation_pvalue([[4], [4]])["p"] == 1.0  # no variance: never "significant"


def test_the_enumeration_agrees_with_scipy_where_both_apply():
    import numpy as np

    from stats.analysis.exact import _enumerated_pvalue, _kruskal_statistic, _rank_sum_statistic, permutation_pvalue

    for groups in ([[1, 2], [5, 6], [3, 4]], [[1, 2, 2], [2, 3, 4]]):
        samples = [np.asarray(g, dtype=float) for g in groups]
        assert _enumerated_pvalue(samples, _kruskal_statistic, "greater") == pytest.approx(
            permutation_pvalue(groups)["p"])
    samples = [np.asarray([1, 2, 2], float), np.asarray([2, 3, 4], float)]
    for alternative in ("two-sided", "less", "greater"):
        assert _enumerated_pvalue(samples, _rank_sum_statistic, alternative) == pytest.approx(
            permutation_pvalue([[1, 2, 2], [2, 3, 4]], test="mann_whitney", alternative=alternative)["p"])

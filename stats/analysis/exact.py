"""Exact and permutation p-values of the rank tests, for groups too small for the asymptotic distribution.

Below five answers in a group the chi-square approximation of the Kruskal-Wallis statistic is poor
(reference/stats-reference-notes.md): with three against three fully separated answers it gives
p = .0495 (.025 with tied values), while the exact permutation p is 2/20 = .10 (R: wilcox.test(1:3, 4:6)
and exactRankTests::wilcox.exact give .1). Here the p-value comes from the permutation distribution of the
statistic conditional on the observed values (ties included, as coin::kruskal_test(distribution = "exact")
and coin::wilcox_test do): enumerated exactly when the number of distinct assignments is at most
``exact_limit``, otherwise estimated by ``scipy.stats.permutation_test`` with a seeded generator, and then
reported with its Monte-Carlo standard error.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError
from .kruskal import kruskal_h

EXACT_LIMIT = 200_000
DEFAULT_RESAMPLES = 9_999
ALTERNATIVES = ("two-sided", "greater", "less")


def distinct_assignments(sizes: Sequence[int]) -> int:
    """Number of ways to split N answers into groups of the given sizes: N! / (n_1! ... n_k!)."""
    total, count = 0, 1
    for size in sizes:
        total += int(size)
        count *= math.comb(total, int(size))
    return count


def _kruskal_statistic(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    sizes = [sample.shape[axis] for sample in samples]
    pooled = np.concatenate([np.moveaxis(sample, axis, -1) for sample in samples], axis=-1)
    batch_shape = pooled.shape[:-1]
    h, _ = kruskal_h(pooled.reshape(-1, pooled.shape[-1]), sizes)
    return np.asarray(h).reshape(batch_shape)


def _assignments(indices: tuple[int, ...], sizes: Sequence[int]):
    """Every split of ``indices`` into ordered groups of the given sizes (as one concatenated tuple)."""
    from itertools import combinations

    if len(sizes) == 1:
        yield indices
        return
    for first in combinations(indices, sizes[0]):
        chosen = set(first)
        rest = tuple(i for i in indices if i not in chosen)
        for tail in _assignments(rest, sizes[1:]):
            yield first + tail


def _enumerated_pvalue(samples: list[np.ndarray], statistic, alternative: str) -> float:
    """Exact permutation p by full enumeration, with scipy's tolerance rule for ties of the statistic."""
    sizes = [sample.size for sample in samples]
    pooled = np.concatenate(samples)
    orders = np.array(list(_assignments(tuple(range(pooled.size)), sizes)))
    arranged = pooled[orders]
    bounds = np.cumsum(sizes)[:-1]
    null = np.asarray(statistic(*np.split(arranged, bounds, axis=-1), axis=-1), dtype=float)
    observed = float(np.asarray(statistic(*[s[np.newaxis, :] for s in samples], axis=-1)).ravel()[0])
    if not np.isfinite(observed):
        return 1.0  # no variance among the answers: nothing can be more extreme than what was seen
    gamma = abs(observed) * 1e-14 * 100
    p_greater = float(np.mean(null >= observed - gamma))
    p_less = float(np.mean(null <= observed + gamma))
    if alternative == "greater":
        return p_greater
    if alternative == "less":
        return p_less
    return min(1.0, 2.0 * min(p_greater, p_less))


def _rank_sum_statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mann-Whitney U of the first sample (ties given average ranks)."""
    from scipy import stats as scipy_stats

    x, y = np.moveaxis(x, axis, -1), np.moveaxis(y, axis, -1)
    ranks = scipy_stats.rankdata(np.concatenate([x, y], axis=-1), axis=-1)
    m = x.shape[-1]
    return ranks[..., :m].sum(axis=-1) - m * (m + 1) / 2.0


def permutation_pvalue(
    groups: Sequence[Sequence[float]],
    *,
    test: str = "kruskal_wallis",
    alternative: str = "two-sided",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    exact_limit: int = EXACT_LIMIT,
) -> dict[str, Any]:
    """Permutation p of Kruskal-Wallis H (large H is extreme) or Mann-Whitney U of the first of two groups.

    Returns {"p", "method": "exact"|"permutation", "assignments", "resamples", "mc_error"}: "exact" when
    every distinct assignment of the answers to the groups was enumerated (mc_error 0), "permutation"
    for a seeded Monte-Carlo estimate with mc_error = sqrt(p(1-p)/resamples).
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never analyse stay small

    samples = [np.asarray(group, dtype=float) for group in groups]
    if len(samples) < 2 or any(sample.size == 0 for sample in samples):
        raise AnalysisInputError("A permutation test needs at least two non-empty groups.")
    if alternative not in ALTERNATIVES:
        raise AnalysisInputError(f"alternative must be one of {', '.join(ALTERNATIVES)}, not {alternative!r}.")
    if test == "kruskal_wallis":
        if alternative != "two-sided":
            raise AnalysisInputError("The Kruskal-Wallis test is two-sided (an omnibus test); use mann_whitney "
                                     "for a one-sided comparison of two conditions.")
        statistic, scipy_alternative = _kruskal_statistic, "greater"
    elif test == "mann_whitney":
        if len(samples) != 2:
            raise AnalysisInputError("The Mann-Whitney test compares exactly two conditions.")
        statistic, scipy_alternative = _rank_sum_statistic, alternative
    else:
        raise AnalysisInputError(f"Unknown test {test!r}; choose kruskal_wallis or mann_whitney.")
    assignments = distinct_assignments([sample.size for sample in samples])
    exact = assignments <= exact_limit
    n_resamples = assignments if exact else int(resamples)
    if n_resamples < 1:
        raise AnalysisInputError(f"resamples must be a positive integer, not {resamples!r}.")
    if exact and min(sample.size for sample in samples) < 2:
        # scipy's permutation_test refuses groups of one answer; the enumeration is small, so do it here.
        p = _enumerated_pvalue(samples, statistic, scipy_alternative)
    else:
        result = scipy_stats.permutation_test(
            samples, statistic, permutation_type="independent", vectorized=True, n_resamples=n_resamples,
            alternative=scipy_alternative, rng=np.random.default_rng(seed),
        )
        p = float(min(1.0, result.pvalue))
    return {
        "p": p,
        "method": "exact" if exact else "permutation",
        "assignments": assignments,
        "resamples": None if exact else n_resamples,
        "seed": None if exact else seed,
        "mc_error": 0.0 if exact else math.sqrt(p * (1.0 - p) / n_resamples),
    }

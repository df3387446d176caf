"""Effect sizes with intervals: epsilon-squared (any number of groups) and, for two groups, the
Vargha-Delaney A, Cliff's delta and the Hodges-Lehmann shift.

- epsilon^2 = H/(N-1) (Tomczak & Tomczak 2014) with a percentile bootstrap interval: each group is
  resampled within itself (stratified, seeded), so the group sizes of the study are kept.
- A = P(X > Y) + P(X = Y)/2 (Vargha & Delaney 2000): the probability that a random answer of the first
  condition is higher than one of the second; Cliff's delta = 2A - 1.
- Hodges-Lehmann shift: the median of all pairwise differences x_i - y_j, with the distribution-free
  interval of Bauer (1972) that R's wilcox.test(x, y, conf.int = TRUE) reports: the order statistics
  qu and mn - qu + 1 of the sorted differences, qu = qwilcox(alpha/2, m, n) (at least 1). The exact
  Mann-Whitney null distribution is used up to m*n = EXACT_PRODUCT, the normal approximation above.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .kruskal import kruskal_h

EXACT_PRODUCT = 10_000


def epsilon_squared_interval(
    groups: Sequence[Sequence[float]], *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> list[float] | None:
    """Percentile bootstrap interval of epsilon^2 = H/(N-1); None when fewer than two groups have answers."""
    samples = [np.asarray(group, dtype=float) for group in groups if len(group)]
    if len(samples) < 2:
        return None
    rng = np.random.default_rng(seed)
    sizes = [sample.size for sample in samples]
    drawn = np.concatenate(
        [sample[rng.integers(0, sample.size, size=(resamples, sample.size))] for sample in samples], axis=1
    )
    h, _ = kruskal_h(drawn, sizes)
    # A resample whose answers are all identical shows no difference between the groups at all.
    epsilon = np.where(np.isfinite(h), h, 0.0) / (sum(sizes) - 1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(epsilon, [tail, 1.0 - tail])
    return [float(low), float(high)]


def vargha_delaney_a(x: Sequence[float], y: Sequence[float]) -> float:
    """A = P(X > Y) + 0.5 P(X = Y) over all pairs (0.5: no effect; 1: every x above every y)."""
    a, b = np.asarray(x, dtype=float)[:, None], np.asarray(y, dtype=float)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def _mann_whitney_null_cdf(m: int, n: int) -> np.ndarray:
    """P(U <= u), u = 0..mn, of the Mann-Whitney statistic without ties (R's pwilcox).

    The counts are the coefficients of the Gaussian binomial [m+n choose m]_q, built as
    prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i): a multiplication and a division by a binomial per factor.
    """
    size = m * n + 1
    counts = np.zeros(size)
    counts[0] = 1.0
    for i in range(1, m + 1):
        shifted = np.zeros(size)
        shifted[n + i:] = counts[: size - (n + i)]
        counts = counts - shifted
        for residue in range(i):  # divide by (1 - q^i): a running sum with stride i
            counts[residue::i] = np.cumsum(counts[residue::i])
    counts = np.maximum(counts, 0.0)
    return np.cumsum(counts) / math.comb(m + n, m)


def hodges_lehmann(
    x: Sequence[float], y: Sequence[float], *, confidence: float = 0.95
) -> dict[str, Any]:
    """Shift x - y: the median of the pairwise differences and its interval (see the module docstring)."""
    from scipy import stats as scipy_stats

    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    m, n = a.size, b.size
    differences = np.sort((a[:, None] - b[None, :]).ravel())
    estimate = float(np.median(differences))
    alpha = 1.0 - confidence
    if m * n <= EXACT_PRODUCT:
        cdf = _mann_whitney_null_cdf(m, n)
        qu = int(np.searchsorted(cdf, alpha / 2.0 - 1e-12))  # smallest u with P(U <= u) >= alpha/2
        method = "exact"
    else:
        z = scipy_stats.norm.ppf(1.0 - alpha / 2.0)
        qu = int(math.floor(m * n / 2.0 - z * math.sqrt(m * n * (m + n + 1) / 12.0)))
        cdf, method = None, "normal"
    qu = max(qu, 1)
    low, high = differences[qu - 1], differences[m * n - qu]
    achieved = 1.0 - 2.0 * float(cdf[qu - 1]) if cdf is not None else confidence
    return {"estimate": estimate, "low": float(low), "high": float(high), "confidence": confidence,
            "achieved_confidence": achieved,
            "method": method}


def two_group_effects(
    x: Sequence[float], y: Sequence[float], *, first: str, second: str, confidence: float = 0.95
) -> dict[str, Any]:
    """Directional effects of ``first`` (x) against ``second`` (y)."""
    a = vargha_delaney_a(x, y)
    return {"first": first, "second": second, "vargha_delaney_a": a, "cliffs_delta": 2.0 * a - 1.0,
            "hodges_lehmann": hodges_lehmann(x, y, confidence=confidence)}

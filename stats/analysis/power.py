"""Sample-size planning for between-group Likert studies (no Django).

Two routes (reference/stats-reference-notes.md, "Power"):

- From Cohen's d: the two-sample t-test sample size (statsmodels ``TTestIndPower``) divided by the
  asymptotic relative efficiency of the rank test against the t-test: 0.955 (3/pi, normal data) or 0.864
  (the worst case over all distributions, Hodges & Lehmann 1956). d = 0.5, alpha = .05/6, power = .8 gives
  104 per group.
- From two assumed response distributions over the scale points (a shift in how people answer): the
  power of the Kruskal-Wallis test estimated by seeded simulation, and the smallest n per condition that
  reaches the requested power.

The significance level is divided by the Bonferroni family size (the seed study corrected over its six
pattern statements).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError
from .kruskal import kruskal_h

ARE_NORMAL = 3.0 / math.pi  # 0.955
ARE_WORST_CASE = 0.864
ARE_CHOICES = {"normal": ARE_NORMAL, "worst_case": ARE_WORST_CASE}


@dataclass(frozen=True)
class SampleSizePlan:
    method: str
    n_per_condition: int
    conditions: int
    n_total: int
    alpha: float
    family_size: int
    alpha_per_test: float
    power: float
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_common(alpha: float, power: float, family_size: int, conditions: int) -> float:
    if not 0.0 < alpha < 1.0:
        raise AnalysisInputError(f"alpha must be between 0 and 1, not {alpha!r}.")
    if not 0.0 < power < 1.0:
        raise AnalysisInputError(f"power must be between 0 and 1, not {power!r}.")
    if isinstance(family_size, bool) or not isinstance(family_size, int) or family_size < 1:
        raise AnalysisInputError(f"family_size must be a positive integer, not {family_size!r}.")
    if isinstance(conditions, bool) or not isinstance(conditions, int) or conditions < 2:
        raise AnalysisInputError(f"conditions must be an integer of at least 2, not {conditions!r}.")
    return alpha / family_size


def plan_from_cohens_d(
    *,
    d: float,
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    efficiency: str = "normal",
    conditions: int = 2,
) -> SampleSizePlan:
    """Participants per condition to detect a standardised difference d between two conditions."""
    from statsmodels.stats.power import TTestIndPower

    alpha_per_test = _check_common(alpha, power, family_size, conditions)
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
        raise AnalysisInputError(f"Cohen's d must be a positive number, not {d!r}.")
    if efficiency not in ARE_CHOICES:
        raise AnalysisInputError(
            f"efficiency must be one of {', '.join(ARE_CHOICES)}, not {efficiency!r}."
        )
    n_t_test = float(
        TTestIndPower().solve_power(effect_size=float(d), alpha=alpha_per_test, power=power, ratio=1.0)
    )
    if not math.isfinite(n_t_test) or n_t_test <= 0:
        raise AnalysisInputError(f"No sample size could be computed for d={d!r} (the power solver did not "
                                 "converge); use a d between 0.01 and 5.")
    are = ARE_CHOICES[efficiency]
    n = math.ceil(n_t_test / are - 1e-9)
    return SampleSizePlan(
        method="cohens_d",
        n_per_condition=n,
        conditions=conditions,
        n_total=n * conditions,
        alpha=alpha,
        family_size=family_size,
        alpha_per_test=alpha_per_test,
        power=power,
        details={"d": float(d), "n_t_test": n_t_test, "efficiency": efficiency, "are": are},
    )


def _distribution(probabilities: Sequence[float], label: str) -> np.ndarray:
    try:
        array = np.asarray([float(p) for p in probabilities], dtype=float)
    except (TypeError, ValueError):
        raise AnalysisInputError(f"{label} must be a list of probabilities, one per scale point.") from None
    if array.size < 2 or not np.all(np.isfinite(array)) or np.any(array < 0) or array.sum() <= 0:
        raise AnalysisInputError(f"{label} must be non-negative probabilities, one per scale point.")
    if abs(array.sum() - 1.0) > 0.02:
        raise AnalysisInputError(f"{label} must sum to 1 (it sums to {array.sum():.3f}).")
    return array / array.sum()


def kruskal_power_simulated(
    distributions: Sequence[Sequence[float]],
    *,
    n_per_condition: int,
    alpha: float,
    simulations: int = 2000,
    seed: int = 0,
) -> float:
    """Share of simulated studies in which Kruskal-Wallis rejects at ``alpha`` (vectorised, seeded).

    Each condition draws ``n_per_condition`` answers from its distribution over the scale points 1..K;
    every simulated study is tested with ``kruskal_h``, the statistic the analysis itself uses. An
    all-identical simulated study counts as "not rejected".
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never plan stay small

    dists = [_distribution(d, f"distribution {i + 1}") for i, d in enumerate(distributions)]
    if len({d.size for d in dists}) != 1:
        raise AnalysisInputError("All distributions need the same number of scale points.")
    if len(dists) < 2:
        raise AnalysisInputError("Give at least two distributions (one per condition).")
    if n_per_condition < 2:
        raise AnalysisInputError("n_per_condition must be at least 2.")
    rng = np.random.default_rng(seed)
    k, n = len(dists), int(n_per_condition)
    points = np.arange(1, dists[0].size + 1)
    samples = np.concatenate([rng.choice(points, size=(simulations, n), p=d) for d in dists], axis=1)
    h, _ = kruskal_h(samples, [n] * k)
    varied = np.isfinite(h)
    p_values = np.ones(simulations)
    p_values[varied] = scipy_stats.chi2.sf(h[varied], k - 1)
    return float(np.mean(p_values < alpha))


def plan_from_distributions(
    *,
    distributions: Sequence[Sequence[float]],
    alpha: float = 0.05,
    power: float = 0.8,
    family_size: int = 1,
    simulations: int = 1000,
    seed: int = 0,
    max_n: int = 2000,
) -> SampleSizePlan:
    """Smallest n per condition whose simulated Kruskal-Wallis power reaches ``power``.

    Doubling to bracket the answer, then bisection; every evaluation uses the same seed so the search
    is deterministic.
    """
    alpha_per_test = _check_common(alpha, power, family_size, len(distributions))

    def power_at(n: int) -> float:
        return kruskal_power_simulated(
            distributions, n_per_condition=n, alpha=alpha_per_test, simulations=simulations, seed=seed
        )

    low, high = 1, 4
    while power_at(high) < power:
        low, high = high, high * 2
        if high > max_n:
            if power_at(max_n) < power:
                raise AnalysisInputError(
                    f"Even {max_n} per condition do not reach power {power}: the distributions barely differ."
                )
            high = max_n
            break
    while high - low > 1:
        middle = (low + high) // 2
        if power_at(middle) >= power:
            high = middle
        else:
            low = middle
    achieved = power_at(high)
    k = len(distributions)
    return SampleSizePlan(
        method="simulation",
        n_per_condition=high,
        conditions=k,
        n_total=high * k,
        alpha=alpha,
        family_size=family_size,
        alpha_per_test=alpha_per_test,
        power=power,
        details={
            "distributions": [list(map(float, _distribution(d, "distribution"))) for d in distributions],
            "achieved_power": achieved,
            "simulations": simulations,
            "seed": seed,
        },
    )

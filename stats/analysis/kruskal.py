"""The Kruskal-Wallis H test with its tie correction, effect sizes and per-group summaries.

``kruskal_h`` is the one implementation of the statistic: ``kruskal_wallis`` calls it on one study and the
sample-size simulation (stats.analysis.power) on thousands of simulated studies at once.

Degenerate data are reported through ``status`` instead of numbers: scipy 1.17 returns ``H = inf, p = 0``
for some all-identical inputs and silently propagates NaN, and a platform that passed either on would
print a false "highly significant" result (reference/stats-reference-notes.md, "Pitfalls").
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError, clean_values
from .descriptives import quartiles

SMALL_GROUP_SIZE = 5


class TestStatus:
    """Why a test was or was not computed; stable strings used in the JSON results."""

    OK = "ok"
    NO_VARIANCE = "no_variance"
    TOO_FEW_GROUPS = "too_few_groups"
    MISSING_VALUES = "missing_values"

    MESSAGES = {
        OK: "",
        NO_VARIANCE: "No test possible: every response is identical (no variance).",
        TOO_FEW_GROUPS: "No test possible: fewer than two conditions have responses.",
        MISSING_VALUES: "No test possible: missing values present (drop them explicitly with missing='drop').",
    }


@dataclass(frozen=True)
class GroupSummary:
    n: int
    n_missing: int
    mean_rank: float | None
    median: float | None
    q1: float | None
    q3: float | None
    iqr: float | None
    mean: float | None


@dataclass(frozen=True)
class KruskalResult:
    status: str
    message: str
    h: float | None
    df: int | None
    p: float | None
    n_total: int
    groups: dict[str, GroupSummary]
    epsilon_squared: float | None
    eta_squared_h: float | None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == TestStatus.OK

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tie_counts(ordered: np.ndarray) -> np.ndarray:
    """Sizes of the runs of equal values in each sorted row (zeros pad the rows with fewer runs)."""
    rows, n_total = ordered.shape
    starts = np.ones(ordered.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_ids = np.cumsum(starts, axis=1) - 1 + (np.arange(rows) * n_total)[:, None]
    return np.bincount(run_ids.ravel(), minlength=rows * n_total).reshape(rows, n_total).astype(float)


def kruskal_h(pooled: np.ndarray, sizes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Tie-corrected H and the mean rank of each group, for one study or for many at once.

    ``pooled`` holds the groups one after another (``sizes`` gives their lengths, each at least 1); a 2-D
    array is one study per row. H = 12/(N(N+1)) sum R_i^2/n_i - 3(N+1), divided by the tie correction
    1 - sum(t^3-t)/(N^3-N), with ties given their average rank (as scipy.stats.kruskal and R
    kruskal.test). H is NaN for a study whose answers are all identical (the correction is 0).
    Returns (H, mean ranks): scalars and shape (k,) for 1-D input, shapes (rows,) and (rows, k) for 2-D.
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never analyse stay small

    values = np.asarray(pooled, dtype=float)
    batch = np.atleast_2d(values)
    n_total = batch.shape[1]
    group_sizes = np.asarray(sizes, dtype=float)
    ranks = scipy_stats.rankdata(batch, axis=1)
    offsets = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=int))[:-1]])
    rank_sums = np.add.reduceat(ranks, offsets, axis=1)
    h_uncorrected = 12.0 / (n_total * (n_total + 1)) * (rank_sums**2 / group_sizes).sum(axis=1) - 3.0 * (
        n_total + 1
    )
    ties = _tie_counts(np.sort(batch, axis=1))
    correction = 1.0 - (ties**3 - ties).sum(axis=1) / (n_total**3 - n_total)
    h = np.full(batch.shape[0], np.nan)
    varied = correction > 0
    h[varied] = h_uncorrected[varied] / correction[varied]
    mean_ranks = rank_sums / group_sizes
    if values.ndim == 1:
        return h[0], mean_ranks[0]
    return h, mean_ranks


def _summaries(clean: Mapping[str, np.ndarray], missing: Mapping[str, int], ranks: Mapping[str, float]):
    summaries = {}
    for name, values in clean.items():
        if values.size == 0:
            summaries[name] = GroupSummary(0, missing[name], None, None, None, None, None, None)
            continue
        median, q1, q3 = quartiles(values)
        summaries[name] = GroupSummary(
            n=int(values.size),
            n_missing=int(missing[name]),
            mean_rank=ranks.get(name),
            median=median,
            q1=q1,
            q3=q3,
            iqr=q3 - q1,
            mean=float(values.mean()),
        )
    return summaries


def kruskal_wallis(groups: Mapping[str, Sequence[Any]], *, missing: str = "reject") -> KruskalResult:
    """Kruskal-Wallis H test across groups, with effect sizes and per-group summaries.

    H and its tie correction come from ``kruskal_h``; p from the chi-square distribution with k-1
    degrees of freedom. Effect sizes: epsilon^2 = H/(N-1) (Tomczak & Tomczak 2014) and
    eta^2_H = (H-k+1)/(N-k) floored at 0.

    ``missing``: "reject" (default) gives status "missing_values" when any answer is missing, "drop" drops
    missing answers and counts them per group. Non-numeric answers raise AnalysisInputError.
    Groups with no responses are reported (n = 0) but take no part in the test.
    """
    from scipy import stats as scipy_stats  # lazily: web processes that never analyse stay small

    if missing not in ("reject", "drop"):
        raise AnalysisInputError(f"missing must be 'reject' or 'drop', not {missing!r}.")
    clean: dict[str, np.ndarray] = {}
    missing_counts: dict[str, int] = {}
    for name, values in groups.items():
        clean[str(name)], missing_counts[str(name)] = clean_values(values, label=f"group {name!r}")

    def no_test(status: str, message: str | None = None) -> KruskalResult:
        return KruskalResult(
            status=status,
            message=message or TestStatus.MESSAGES[status],
            h=None,
            df=None,
            p=None,
            n_total=int(sum(v.size for v in clean.values())),
            groups=_summaries(clean, missing_counts, {}),
            epsilon_squared=None,
            eta_squared_h=None,
        )

    total_missing = sum(missing_counts.values())
    if total_missing and missing == "reject":
        return no_test(
            TestStatus.MISSING_VALUES,
            f"No test possible: {total_missing} missing value(s); drop them explicitly with missing='drop'.",
        )
    tested = {name: values for name, values in clean.items() if values.size > 0}
    if len(tested) < 2:
        return no_test(TestStatus.TOO_FEW_GROUPS)
    pooled = np.concatenate(list(tested.values()))
    if np.all(pooled == pooled[0]):
        return no_test(TestStatus.NO_VARIANCE)

    n_total = int(pooled.size)
    k = len(tested)
    h_value, group_mean_ranks = kruskal_h(pooled, [values.size for values in tested.values()])
    mean_ranks = {name: float(rank) for name, rank in zip(tested, group_mean_ranks, strict=True)}
    h = float(h_value)
    df = k - 1
    p = float(scipy_stats.chi2.sf(h, df))
    if not (math.isfinite(h) and math.isfinite(p)):  # pragma: no cover - guarded by the checks above
        return no_test(TestStatus.NO_VARIANCE)

    eta_squared_h = max(0.0, (h - k + 1) / (n_total - k)) if n_total > k else None
    warnings = []
    small = sorted(name for name, values in tested.items() if values.size < SMALL_GROUP_SIZE)
    if small:
        warnings.append(
            "Fewer than 5 responses in " + ", ".join(small) + ": the chi-square approximation is poor."
        )
    empty = sorted(name for name, values in clean.items() if values.size == 0)
    if empty:
        warnings.append("No responses in " + ", ".join(empty) + ": left out of the test.")
    if total_missing:
        warnings.append(f"{total_missing} missing value(s) dropped.")
    return KruskalResult(
        status=TestStatus.OK,
        message="",
        h=h,
        df=df,
        p=p,
        n_total=n_total,
        groups=_summaries(clean, missing_counts, mean_ranks),
        epsilon_squared=h / (n_total - 1),
        eta_squared_h=eta_squared_h,
        warnings=warnings,
    )

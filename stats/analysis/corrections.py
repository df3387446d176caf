"""Multiple-comparison corrections over a family of tests (Bonferroni, Holm, Benjamini-Hochberg)."""
from __future__ import annotations

import math
from collections.abc import Sequence

from .cleaning import AnalysisInputError, to_float

CORRECTION_METHODS = ("bonferroni", "holm", "fdr_bh")


def check_correction(method: str) -> str:
    if method not in CORRECTION_METHODS:
        raise AnalysisInputError(
            f"Unknown correction method {method!r}; choose one of: {', '.join(CORRECTION_METHODS)}."
        )
    return method


def adjust_pvalues(pvalues: Sequence[float | None], method: str = "bonferroni") -> list[float | None]:
    """Adjusted p-values in input order via statsmodels ``multipletests``.

    Missing p-values (None or NaN, e.g. items with no test) are left out of the family - they neither
    count towards m nor poison the FDR ranking - and come back as None. ``method`` is passed explicitly:
    statsmodels' default is Holm-Sidak, not Bonferroni.
    """
    from statsmodels.stats.multitest import multipletests

    check_correction(method)
    positions: list[int] = []
    finite: list[float] = []
    for index, value in enumerate(pvalues):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        number = to_float(value, label="p-value")
        if not 0.0 <= number <= 1.0:
            raise AnalysisInputError(f"p-value {value!r} is outside [0, 1].")
        positions.append(index)
        finite.append(number)
    adjusted: list[float | None] = [None] * len(pvalues)
    if not finite:
        return adjusted
    _, corrected, _, _ = multipletests(finite, method=method)
    for index, value in zip(positions, corrected, strict=True):
        adjusted[index] = float(min(1.0, value))
    return adjusted

"""Likert answers: scale validation, reverse coding and the agree / neutral / disagree summary."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .cleaning import AnalysisInputError, clean_values
from .descriptives import quartiles


def check_scale_points(scale_points: int) -> int:
    if isinstance(scale_points, bool) or not isinstance(scale_points, int):
        raise AnalysisInputError(f"scale_points must be an odd integer, not {scale_points!r}.")
    if scale_points < 3 or scale_points % 2 == 0:
        raise AnalysisInputError(f"scale_points must be an odd integer of at least 3, not {scale_points}.")
    return scale_points


def reverse_code(values: Iterable[float], scale_points: int) -> list[float]:
    """Recode a reverse-keyed item so that higher always means more agreement: v -> points + 1 - v."""
    check_scale_points(scale_points)
    return [scale_points + 1 - value for value in values]


def likert_values(values: Iterable[Any], scale_points: int, *, label: str = "values") -> np.ndarray:
    """Validated integer Likert answers 1..scale_points (missing values dropped)."""
    check_scale_points(scale_points)
    clean, _ = clean_values(values, label=label)
    bad = clean[(clean != np.round(clean)) | (clean < 1) | (clean > scale_points)]
    if bad.size:
        raise AnalysisInputError(
            f"{label}: {bad[0]:g} is not a point of the 1..{scale_points} scale."
        )
    return clean.astype(int)


def likert_summary(values: Iterable[Any], scale_points: int = 7, *, label: str = "values") -> dict[str, Any]:
    """Counts per scale point, % disagree / neutral / agree, median, IQR and mean.

    For an odd scale of 2m+1 points, 1..m is disagreement, m+1 neutral and m+2..2m+1 agreement
    (7 points: 1-3 / 4 / 5-7, as the seed's Figure 4). Percentages are of the non-missing answers.
    """
    answers = likert_values(values, scale_points, label=label)
    neutral = (scale_points + 1) // 2
    counts = np.bincount(answers, minlength=scale_points + 1)[1:]
    n = int(answers.size)
    if n == 0:
        return {
            "n": 0, "counts": [0] * scale_points, "percentages": [None] * scale_points,
            "pct_disagree": None, "pct_neutral": None, "pct_agree": None,
            "median": None, "q1": None, "q3": None, "iqr": None, "mean": None,
        }
    median, q1, q3 = quartiles(answers.astype(float))
    return {
        "n": n,
        "counts": [int(c) for c in counts],
        "percentages": [100.0 * float(c) / n for c in counts],
        "pct_disagree": 100.0 * float(counts[: neutral - 1].sum()) / n,
        "pct_neutral": 100.0 * float(counts[neutral - 1]) / n,
        "pct_agree": 100.0 * float(counts[neutral:].sum()) / n,
        "median": median,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "mean": float(answers.mean()),
    }


"""Descriptive statistics shared by the tests and the Likert summaries."""
from __future__ import annotations

import numpy as np


def quartiles(values: np.ndarray) -> tuple[float, float, float]:
    """(median, q1, q3) with R's default (type 7) quantiles, which numpy's "linear" method also implements."""
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    return float(median), float(q1), float(q3)

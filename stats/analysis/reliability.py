"""Internal consistency of a multi-item scale: Cronbach's alpha with the Feldt interval.

alpha = k/(k-1) (1 - sum of item variances / variance of the sum score) (Cronbach 1951). Its interval
follows Feldt, Woodruff & Salih (1987): (1 - alpha)/(1 - alpha_hat) ~ F(n-1, (n-1)(k-1)), so
[1 - (1-alpha_hat) F_{1-g/2}, 1 - (1-alpha_hat) F_{g/2}] (R: psych::alpha.ci). Used for the explanation
satisfaction scale of the seed study (Hoffman et al., 2018) before its items are averaged into a score.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .cleaning import AnalysisInputError


def cronbach_alpha(scores: Any, *, confidence: float = 0.95) -> dict[str, Any]:
    """Alpha of an n x k matrix (participants x items, complete cases only) and its interval."""
    from scipy import stats as scipy_stats

    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] < 2:
        raise AnalysisInputError("Cronbach's alpha needs a participants x items matrix with at least two items.")
    n, k = matrix.shape
    if n < 3:
        return {"alpha": None, "low": None, "high": None, "n": n, "k": k,
                "message": "Too few complete answers (fewer than 3) for Cronbach's alpha."}
    total_variance = matrix.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        return {"alpha": None, "low": None, "high": None, "n": n, "k": k,
                "message": "Every participant has the same scale score: alpha is undefined."}
    alpha = k / (k - 1) * (1.0 - matrix.var(axis=0, ddof=1).sum() / total_variance)
    df1, df2 = n - 1, (n - 1) * (k - 1)
    tail = (1.0 - confidence) / 2.0
    low = 1.0 - (1.0 - alpha) * scipy_stats.f.ppf(1.0 - tail, df1, df2)
    high = 1.0 - (1.0 - alpha) * scipy_stats.f.ppf(tail, df1, df2)
    return {"alpha": float(alpha), "low": float(low), "high": float(high), "n": n, "k": k,
            "confidence": confidence, "message": ""}

"""Logit bins of the seed study's grids (plain numpy; importing this loads no torch).

Sixt et al. (section 3.3; reference code ``analysis.py``, reference notes "Study grids"): column targets
[-a_k, ..., -a_1, 0, a_1, ..., a_k] with a_i percentiles of |logit| on held-out data; bins delimited by the
midpoints between targets with -inf/+inf at the ends; images drawn per bin without replacement, seeded.
Used by the example-based method, the grid layouts and the bias audit alike.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from .registry import MethodError

#: Percentiles of |logit| that place the study's columns (reference notes, "Study grids").
STUDY_PERCENTILES = (33.3, 75.0)

def symmetric_targets(logits, percentiles: Sequence[float] = STUDY_PERCENTILES) -> list[float]:
    """The study grid's columns [-a_k, ..., -a_1, 0, a_1, ..., a_k]: a = percentiles of |logit| (ascending)."""
    values = np.abs(np.asarray(logits, dtype=np.float64))
    if values.size == 0:
        raise MethodError("cannot derive logit targets from no logits")
    magnitudes = [float(np.percentile(values, p)) for p in percentiles]
    return [-m for m in reversed(magnitudes)] + [0.0] + magnitudes


def bin_edges(targets: Iterable[float]) -> np.ndarray:
    """Bin edges between column targets: midpoints, with -inf/+inf at the ends (len = columns + 1)."""
    centres = np.asarray(sorted(targets), dtype=np.float64)
    return np.concatenate([[-np.inf], (centres[1:] + centres[:-1]) / 2, [np.inf]])


def assign_bins(scores, edges: np.ndarray) -> np.ndarray:
    """Column index of each score: bin j holds edges[j] <= score < edges[j + 1]."""
    return np.searchsorted(edges, np.asarray(scores, dtype=np.float64), side="right") - 1


def bin_counts(bins: np.ndarray, columns: int) -> np.ndarray:
    return np.bincount(np.asarray(bins), minlength=columns)


def draw_per_bin(bins: np.ndarray, per_bin: int, columns: int, seed: int) -> np.ndarray:
    """Indices [columns, per_bin] of distinct images per bin, without replacement, from one seeded generator.

    Callers check capacity first (with a message in their own terms); a bin that is still too small fails here.
    """
    counts = bin_counts(bins, columns)
    short = [j for j in range(columns) if counts[j] < per_bin]
    if short:
        raise MethodError(f"bin {short[0]} holds {int(counts[short[0]])} images; {per_bin} are needed")
    rng = np.random.default_rng(seed)
    draws = np.empty((columns, per_bin), dtype=np.int64)
    for j in range(columns):
        draws[j] = rng.choice(np.flatnonzero(bins == j), size=per_bin, replace=False)
    return draws

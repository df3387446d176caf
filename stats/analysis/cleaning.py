"""Turning raw answers into numbers: missing values are counted, anything else non-numeric is refused."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np


class AnalysisInputError(ValueError):
    """Input that cannot be analysed at all (non-numeric answers, unknown options)."""


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def to_float(value: Any, *, label: str) -> float:
    if isinstance(value, bool):
        raise AnalysisInputError(f"{label}: {value!r} is not a numeric response.")
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise AnalysisInputError(f"{label}: {value!r} is not a numeric response.") from None
    else:
        raise AnalysisInputError(f"{label}: {value!r} is not a numeric response.")
    if math.isinf(number):
        raise AnalysisInputError(f"{label}: infinite value {value!r} is not a response.")
    return number


def clean_values(values: Iterable[Any], *, label: str = "values") -> tuple[np.ndarray, int]:
    """Numeric array of the non-missing values and the number of missing ones.

    None, NaN and empty strings count as missing; anything else that is not a finite number raises
    AnalysisInputError naming the offending value.
    """
    kept: list[float] = []
    missing = 0
    for value in values:
        if _is_missing(value):
            missing += 1
            continue
        kept.append(to_float(value, label=label))
    return np.asarray(kept, dtype=float), missing

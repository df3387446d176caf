"""Shared by the reference-value tests: the data folder and six-significant-digit rounding (as R prints)."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def sig6(value: float) -> float:
    return float(f"{value:.6g}")

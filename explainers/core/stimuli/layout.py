"""Shape of a stimulus grid and the rules each grid kind adds; cells and results of a built grid.

The seed (../shared/seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3, "Explanation
Presentation") shows participants a 30 × 5 image grid. Each column is a logit range, from "very confident
Stretchy" on the left to "very confident Sticky" on the right. Column targets are [-a2, -a1, 0, a1, a2] with
a the percentiles of |logit| on held-out data; bins are delimited by the midpoints between targets (see
explainers.core.methods._base). ECINN grids (Hvilshoj et al., section 3.3) have three columns: original,
tipping point alpha0, convincing alpha1.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explainers.core.methods.binning import STUDY_PERCENTILES, bin_counts

#: Registered explanation methods that can fill a grid, and the grid kind each produces.
GRID_KINDS: dict[str, str] = {
    "example_based": "baseline",
    "counterfactual_interpolation": "counterfactual",
    "isofactual": "isofactual",
    "ecinn": "ecinn",
    "ecinn_heatmap": "ecinn_heatmap",
}
#: Kinds whose rows are one original with generated images in the other columns.
ROW_KINDS = ("counterfactual", "isofactual", "ecinn", "ecinn_heatmap")
ECINN_KINDS = ("ecinn", "ecinn_heatmap")
ECINN_COLUMNS = 3
#: Architectures whose latents are class-conditional (what ECINN needs).
CLASS_CONDITIONAL_ARCHITECTURES = ("ibinn",)


class GridLayoutError(ValueError):
    """An impossible grid layout (zero rows, too few held-out images in a bin, bad percentiles, ...)."""


@dataclass(frozen=True)
class GridLayout:
    """Shape of a grid and where its column targets come from.

    ``columns`` must be ``2 * len(percentiles) + 1``: one borderline column (target 0) and, on each side,
    one column per percentile of |logit|.
    """

    rows: int = 30
    columns: int = 5
    percentiles: tuple[float, ...] = STUDY_PERCENTILES
    held_out: int = 3000
    batch_size: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))
        for name in ("rows", "columns", "held_out", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise GridLayoutError(f"{name} must be a whole number, got {value!r}")
        if self.rows < 1:
            raise GridLayoutError(f"rows must be at least 1, got {self.rows}")
        if self.rows > 200:
            raise GridLayoutError(f"rows must be at most 200, got {self.rows}")
        if not self.percentiles:
            raise GridLayoutError("percentiles must name at least one percentile of |logit|")
        if any(not (0.0 < p < 100.0) or math.isnan(p) for p in self.percentiles):
            raise GridLayoutError(f"percentiles must lie strictly between 0 and 100, got {list(self.percentiles)}")
        if any(b <= a for a, b in zip(self.percentiles, self.percentiles[1:])):
            raise GridLayoutError(f"percentiles must be strictly increasing, got {list(self.percentiles)}")
        if self.columns != 2 * len(self.percentiles) + 1:
            raise GridLayoutError(
                f"columns must be 2 × number of percentiles + 1 = {2 * len(self.percentiles) + 1} "
                f"(one borderline column and one per percentile on each side), got {self.columns}"
            )
        if not 1 <= self.batch_size <= 4096:
            raise GridLayoutError(f"batch_size must be between 1 and 4096, got {self.batch_size}")
        if self.held_out < self.rows * self.columns:
            raise GridLayoutError(
                f"held_out ({self.held_out}) must be at least rows × columns = {self.rows * self.columns}"
            )

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GridLayout:
        data = dict(data or {})
        allowed = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise GridLayoutError(f"unknown layout key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        if "percentiles" in data and "columns" not in data:
            percentiles = data["percentiles"]
            if isinstance(percentiles, (list, tuple)):
                data["columns"] = 2 * len(percentiles) + 1
        if "percentiles" in data and not isinstance(data["percentiles"], (list, tuple)):
            raise GridLayoutError(f"percentiles must be a list of numbers, got {data['percentiles']!r}")
        try:
            return cls(**data)
        except TypeError as exc:  # e.g. a string where a number belongs
            raise GridLayoutError(f"invalid layout: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["percentiles"] = list(self.percentiles)
        return data

    def originals_per_bin(self) -> int:
        return self.rows // self.columns

    def originals_needed(self, kind: str) -> int:
        """Distinct held-out images every bin must hold for a grid of ``kind``."""
        return self.rows if kind == "baseline" else self.originals_per_bin()

    def check_kind(self, kind: str) -> None:
        """Layout rules that depend on the grid kind (originals spread evenly over the bins)."""
        if kind in ECINN_KINDS and self.columns != ECINN_COLUMNS:
            raise GridLayoutError(
                f"a grid of kind {kind!r} has three columns (original, tipping point α0, convincing α1): set layout "
                f"columns to 3 and give one percentile, e.g. percentiles [50]"
            )
        if kind in ROW_KINDS and self.rows % self.columns:
            raise GridLayoutError(
                f"a grid of kind {kind!r} puts the same number of originals in every bin, so rows ({self.rows}) must be "
                f"a multiple of columns ({self.columns}), e.g. {max(1, self.rows // self.columns) * self.columns}"
            )


def check_architecture(kind: str, architecture: str) -> None:
    """ECINN needs class-conditional latents; refuse other architectures before any work."""
    if kind in ECINN_KINDS and architecture not in CLASS_CONDITIONAL_ARCHITECTURES:
        raise GridLayoutError(
            f"ECINN needs a checkpoint with class-conditional latents (architecture 'ibinn'); this checkpoint's "
            f"architecture is {architecture!r}. Train one with `python manage.py train_ibinn --preset two4two`."
        )


def column_labels(columns: int, left: str = "Stretchy", right: str = "Sticky") -> list[str]:
    """Human headers from left to right: "Stretchy, very confident" ... "Borderline" ... "Sticky, very confident"."""
    side = columns // 2
    if side == 1:
        levels = ["confident"]
    elif side == 2:
        levels = ["confident", "very confident"]
    else:
        levels = [f"confidence {i}/{side}" for i in range(1, side + 1)]
        levels[-1] = "very confident"
    return ([f"{left}, {levels[d - 1]}" for d in range(side, 0, -1)] + ["Borderline"]
            + [f"{right}, {levels[d - 1]}" for d in range(1, side + 1)])


#: Header of the column in which an isofactual row's original opens the row.
ORIGINAL_COLUMN_LABEL = "Original"


def display_columns(kind: str, targets: Sequence[float], labels: Sequence[str]
                    ) -> tuple[list[float | None], list[str]]:
    """(target, header) of every shown column of a grid of ``kind``, given those of its logit columns.

    An isofactual grid's rows open with the original in a column of its own (no logit target: None), the
    seed's Figure 7a; every other kind shows exactly its logit columns.
    """
    if kind == "isofactual":
        return [None, *targets], [ORIGINAL_COLUMN_LABEL, *labels]
    return list(targets), list(labels)


def check_bin_capacity(bins: np.ndarray, needed: int, columns: int, labels: Sequence[str] | None = None) -> None:
    """Raise GridLayoutError naming every bin that holds fewer than ``needed`` held-out images."""
    counts = bin_counts(bins, columns)
    short = [j for j in range(columns) if counts[j] < needed]
    if short:
        names = labels or [f"column {j}" for j in range(columns)]
        detail = "; ".join(f"{names[j]!r} has {int(counts[j])}" for j in short)
        raise GridLayoutError(
            f"not enough held-out images: every column needs {needed} distinct images but {detail}. "
            f"Use fewer rows, other percentiles, or more held-out images."
        )


def original_rows(draws: np.ndarray) -> list[tuple[int, int]]:
    """(source index, original column) per row; rows cycle through the bins, so the originals form diagonals."""
    columns, per_bin = draws.shape
    return [(int(draws[r % columns, r // columns]), r % columns) for r in range(columns * per_bin)]


@dataclass
class Cell:
    """One image of a grid with what produced it; ``logit`` is the model's logit of exactly this image as
    shown (after 8-bit encoding), or of the counterfactual a heatmap shows the change to."""

    row: int
    column: int
    image: np.ndarray  # H × W × 3 uint8
    logit: float
    is_original: bool
    source_index: int
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"r{self.row:03d}_c{self.column:02d}.png"


@dataclass
class GridResult:
    kind: str
    layout: GridLayout
    targets: list[float | None]  # per shown column; None where a column has no logit target (an original)
    edges: list[float | None]  # boundaries of the logit bins (layout.columns + 1), null = unbounded
    labels: list[str]
    cells: list[Cell]
    timings: dict[str, float]
    network_evaluations: dict[str, int]
    extra: dict[str, Any] = field(default_factory=dict)

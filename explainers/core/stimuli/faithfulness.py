"""Are the served counterfactual cells faithful? Their logits against their columns' targets.

Sixt et al. (section 2): x~ = phi^-1(z + alpha w) "will correspond exactly to the logit offset alpha w^T w".
What a participant sees is the 8-bit image, so the check is made on the logit of exactly that image (a
grid cell's ``logit``): the mean and largest absolute error against the column targets, set against the
spacing of the targets, and the share of rows whose logits rise monotonically in the targets' order.
A column without a target (an isofactual row's original, which opens its row) takes part in neither.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .layout import GridResult


def grid_rows(result: GridResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(images R×C×H×W×3, served logits R×C, is-original R×C, column targets C; NaN where none) of a row-kind
    grid."""
    rows, columns = result.layout.rows, len(result.targets)
    images = np.zeros((rows, columns, *result.cells[0].image.shape), dtype=np.uint8)
    logits = np.full((rows, columns), np.nan)
    original = np.zeros((rows, columns), dtype=bool)
    for cell in result.cells:
        images[cell.row, cell.column] = cell.image
        logits[cell.row, cell.column] = cell.logit
        original[cell.row, cell.column] = cell.is_original
    targets = np.array([np.nan if t is None else t for t in result.targets], dtype=np.float64)
    return images, logits, original, targets


def faithfulness(logits: np.ndarray, original: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Errors of the generated cells (an original keeps its own logit) and the share of monotone rows.

    A row is monotone when its logits in the columns that have a target (NaN: none), originals included,
    strictly increase in the order of the targets.
    """
    with_target = np.isfinite(targets)
    generated = ~original & np.isfinite(logits) & with_target[None, :]
    errors = np.abs(logits - targets[None, :])[generated]
    columns = np.flatnonzero(with_target)[np.argsort(targets[with_target])]
    monotone = np.all(np.diff(logits[:, columns], axis=1) > 0, axis=1)
    ordered_targets = np.sort(targets[with_target])
    spacing = float(np.min(np.diff(ordered_targets))) if len(ordered_targets) > 1 else float("nan")
    mean_error = float(errors.mean()) if errors.size else float("nan")
    return {
        "mean_abs_error": mean_error,
        "max_abs_error": float(errors.max()) if errors.size else float("nan"),
        "target_spacing": spacing,
        "error_over_spacing": mean_error / spacing if errors.size and spacing > 0 else float("nan"),
        "monotone_rows": int(monotone.sum()),
        "rows": int(len(monotone)),
        "monotone_share": float(monotone.mean()) if len(monotone) else float("nan"),
        "generated_cells": int(generated.sum()),
    }


def grid_faithfulness(result: GridResult) -> dict[str, Any]:
    """:func:`faithfulness` of a built counterfactual or isofactual grid."""
    _, logits, original, targets = grid_rows(result)
    return faithfulness(logits, original, targets)

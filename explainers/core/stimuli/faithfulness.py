"""Are the served counterfactual cells faithful? Their logits against their columns' targets.

Sixt et al. (section 2): x~ = phi^-1(z + alpha w) "will correspond exactly to the logit offset alpha w^T w".
What a participant sees is the 8-bit image, so the check is made on the logit of exactly that image (a
grid cell's ``logit``): the mean and largest absolute error against the column targets, set against the
spacing of the targets, and the share of rows whose logits rise monotonically in the targets' order.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .layout import GridResult


def grid_rows(result: GridResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(images R×C×H×W×3, served logits R×C, is-original R×C, column targets C) of a row-kind grid."""
    rows, columns = result.layout.rows, len(result.targets)
    images = np.zeros((rows, columns, *result.cells[0].image.shape), dtype=np.uint8)
    logits = np.full((rows, columns), np.nan)
    original = np.zeros((rows, columns), dtype=bool)
    for cell in result.cells:
        images[cell.row, cell.column] = cell.image
        logits[cell.row, cell.column] = cell.logit
        original[cell.row, cell.column] = cell.is_original
    return images, logits, original, np.asarray(result.targets, dtype=np.float64)


def faithfulness(logits: np.ndarray, original: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    """Errors of the generated cells (an original keeps its own logit) and the share of monotone rows.

    A row is monotone when its logits, originals included, strictly increase in the order of the targets.
    """
    generated = ~original & np.isfinite(logits)
    errors = np.abs(logits - targets[None, :])[generated]
    ordered = logits[:, np.argsort(targets)]
    monotone = np.all(np.diff(ordered, axis=1) > 0, axis=1)
    spacing = float(np.min(np.diff(np.sort(targets)))) if len(targets) > 1 else float("nan")
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

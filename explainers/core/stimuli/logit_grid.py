"""The seed study's logit-binned grids, built by calling the registered explanation methods.

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3) and the reference code
(explainers-reference-notes.md, "Study grids"):

* baseline (method ``example_based``): column j holds distinct held-out images whose logit falls in bin j;
* counterfactual (method ``counterfactual_interpolation``): rows // columns originals per bin; each original
  sits in its own bin's column with a golden frame and the rest of its row holds phi^-1(z + alpha w) with the
  logit set exactly to the column target;
* isofactual (method ``isofactual``, section 2 "PCA Isosurface"): each row's original first moves along one
  principal direction of z orthogonal to w, so every column stays an isosurface at its target logit while
  the rows show what the model ignores. No cell of such a row is the original itself, so the original opens
  its row in a column of its own, "Original", before the logit columns (as in the seed's Figure 7a, where
  each isosurface starts from its sample): rows × (1 + columns) cells, that column without a logit target.

Columns run from negative to positive logits, or mirrored with ``positive_on_left`` (the seed shows
Stretchy, label 1, on the left). Every generated cell is served as the 8-bit image whose own logit is
closest to its column's target (explainers.core.methods.served: the rounding of the decoded image is chosen,
and the latent target corrected where rounding cannot close the gap); its ``logit`` is measured on exactly
that image, its ``latent_logit`` parameter is the logit of the latent it was decoded from. The result's
``extra["faithfulness"]`` sets the served logits against the column targets
(explainers.core.stimuli.faithfulness); ``network_evaluations`` counts forward, inverse and backward passes.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from explainers.core import pixels
from explainers.core.methods import method_config, method_get
from explainers.core.methods.binning import (
    assign_bins,
    bin_counts,
    bin_edges,
    draw_per_bin,
    symmetric_targets,
)

from .encoding import ProgressCallback, batches, pick_device, score_images
from .faithfulness import grid_faithfulness
from .layout import (
    Cell,
    GridLayout,
    GridLayoutError,
    GridResult,
    check_bin_capacity,
    column_labels,
    display_columns,
    original_rows,
)

#: A served cell counts as on target within this share of the spacing between neighbouring column targets.
SERVED_TOLERANCE_SHARE = 0.01


@dataclass(frozen=True)
class ColumnBins:
    """Column targets and bins of held-out logits, oriented so that column indices grow left to right.

    ``scores`` = sign · logit with sign = -1 when positive logits are on the left; ``ascending`` are the
    targets in score space and ``targets`` the logit target of each column (left to right).
    """

    sign: float
    ascending: list[float]
    targets: list[float]
    edges: np.ndarray  # in score space, len = columns + 1
    bins: np.ndarray

    @classmethod
    def of(cls, logits: np.ndarray, layout: GridLayout, positive_on_left: bool) -> "ColumnBins":
        if len(logits) == 0:
            raise GridLayoutError("no held-out logits to take percentiles from")
        sign = -1.0 if positive_on_left else 1.0
        ascending = symmetric_targets(logits, layout.percentiles)
        edges = bin_edges(ascending)
        targets = [sign * t + 0.0 for t in ascending]
        return cls(sign, ascending, targets, edges, assign_bins(sign * np.asarray(logits), edges))

    def counts(self, columns: int) -> list[int]:
        return bin_counts(self.bins, columns).tolist()

    def edges_json(self) -> list[float | None]:
        """Logit boundaries per column; JSON has no infinity, so an unbounded edge is null."""
        return [None if not math.isfinite(e) else float(e) for e in self.sign * self.edges]


def build_logit_grid(model, images: np.ndarray, *, kind: str, layout: GridLayout, seed: int,
                     method_parameters: dict[str, Any] | None = None, labels: Sequence[str] | None = None,
                     device=None, held_out: tuple[np.ndarray, np.ndarray | None] | None = None,
                     positive_on_left: bool = False, progress: ProgressCallback | None = None) -> GridResult:
    """Every cell of a grid of ``kind`` ("baseline", "counterfactual" or "isofactual").

    ``images`` are the held-out images (uint8 N×H×W×3); ``held_out`` may pass their precomputed
    (logits, z) to skip the scoring pass. ``method_parameters`` are the method's validated parameters minus
    what the grid fills in itself. Progress runs from 0 to 1 over scoring and generation.
    """
    if kind not in ("baseline", "counterfactual", "isofactual"):
        raise GridLayoutError(f"unknown grid kind {kind!r}")
    layout.check_kind(kind)
    params = dict(method_parameters or {})
    device = device or pick_device()
    labels = list(labels or column_labels(layout.columns))
    report = progress or (lambda fraction, stage: None)
    timings: dict[str, float] = {}
    evaluations = {"forward": 0, "inverse": 0, "backward": 0}
    model.eval()

    started = time.perf_counter()
    need_z = kind == "isofactual"
    if held_out is not None and (held_out[1] is not None or not need_z):
        logits, z = held_out
    else:
        logits, z = score_images(model, images, batch_size=layout.batch_size, device=device, keep_z=need_z,
                                 progress=lambda f, s: report(0.3 * f, s))
        evaluations["forward"] += len(images)
    timings["score_held_out_s"] = time.perf_counter() - started
    columns = ColumnBins.of(logits, layout, positive_on_left)
    check_bin_capacity(columns.bins, layout.originals_needed(kind), layout.columns, labels)
    report(0.3, "selecting images")

    started = time.perf_counter()
    extra: dict[str, Any] = {"bin_counts": columns.counts(layout.columns)}
    if kind == "baseline":
        cells = _baseline_cells(images, logits, columns, layout, seed, params)
        report(1.0, "selected real images")
    else:
        cells = _counterfactual_cells(model, images, logits, z, columns, layout, seed, params, kind, device,
                                      evaluations, extra, lambda f, s: report(0.3 + 0.7 * f, s))
    timings["generate_s"] = time.perf_counter() - started
    cells.sort(key=lambda cell: (cell.row, cell.column))
    extra["positive_on_left"] = positive_on_left
    shown_targets, shown_labels = display_columns(kind, columns.targets, labels)
    result = GridResult(kind, layout, shown_targets, columns.edges_json(), shown_labels, cells, timings,
                        evaluations, extra)
    if kind != "baseline":
        extra["faithfulness"] = grid_faithfulness(result)
    return result


def _baseline_cells(images, logits, columns: ColumnBins, layout: GridLayout, seed: int,
                    params: dict[str, Any]) -> list[Cell]:
    method = method_get("example_based")(method_config("example_based", {
        **params, "target_logits": columns.ascending, "per_column": layout.rows, "seed": seed}))
    chosen = method.select(columns.sign * np.asarray(logits))
    return [Cell(r, c, images[int(chosen[r, c])], float(logits[chosen[r, c]]), False, int(chosen[r, c]),
                 {**params, "real_image": True, "bin": c})
            for c in range(layout.columns) for r in range(layout.rows)]


def _counterfactual_cells(model, images, logits, z, columns: ColumnBins, layout: GridLayout, seed: int,
                          params: dict[str, Any], kind: str, device, evaluations: dict[str, int],
                          extra: dict[str, Any], report: ProgressCallback) -> list[Cell]:
    """Rows of one original each: its counterfactuals (or isofactuals) at every column target, served as 8-bit
    images whose own logits hold the targets (``CounterfactualInterpolation.explain(..., served=True)``).

    A counterfactual row shows the original itself in its own bin's column. An isofactual row first moves the
    original along a principal direction orthogonal to w, so no cell of the row is the original: the original
    opens the row in a column of its own (the seed's Figure 7a), followed by the isosurface at every target.
    """
    import torch

    rows = original_rows(draw_per_bin(columns.bins, layout.originals_per_bin(), layout.columns, seed))
    sources = np.array([s for s, _ in rows])
    keep = np.ones((len(rows), layout.columns), dtype=bool)
    shifts, row_info = None, [{} for _ in rows]
    if kind == "isofactual":
        isofactual = method_get("isofactual")(method_config("isofactual", params))
        reference = torch.as_tensor(z, dtype=torch.float64)
        shifts, row_info = isofactual.row_shifts(model, reference, len(rows))
        extra["isofactual_components"] = min(isofactual.config.n_components, reference.shape[1])
    else:
        keep[np.arange(len(rows)), [c for _, c in rows]] = False  # the original is shown in its own bin's column
    offset = len(display_columns(kind, [], [])[0])  # columns before the logit columns
    counterfactual = method_get("counterfactual_interpolation")(
        method_config("counterfactual_interpolation", {"target_logits": columns.targets}))
    tolerance = SERVED_TOLERANCE_SHARE * float(np.min(np.diff(np.sort(columns.targets))))
    cells: list[Cell] = []
    flips: list[int] = []
    chunk = max(1, layout.batch_size // layout.columns)
    for part in batches(len(rows), chunk):
        explanation = counterfactual.explain(
            model, images[sources[part]], shifts=None if shifts is None else shifts[part], keep=keep[part],
            served=True, tolerance=tolerance)
        for key, count in explanation.extra["network_evaluations"].items():
            evaluations[key] = evaluations.get(key, 0) + count
        n, k = explanation.images.shape[:2]
        shown = pixels.to_uint8(explanation.images.reshape(n * k, *explanation.images.shape[2:]))
        shown_logits = explanation.logits.double().cpu().numpy().reshape(-1)
        alphas = explanation.extra["alphas"].double().cpu().numpy()
        latent_logits = explanation.extra["target_logits_in_z"].double().cpu().numpy()
        cell_flips = explanation.extra["flips"].cpu().numpy()
        for i, r in enumerate(range(part.start, part.stop)):
            source, own_column = rows[r]
            original = Cell(r, 0 if offset else own_column, images[source], float(logits[source]), True, source,
                            {**params, **row_info[r], "original": True, **({} if offset else {"bin": own_column})})
            cells.append(original)
            for c in range(layout.columns):
                if not keep[r, c]:
                    continue
                flips.append(int(cell_flips[i, c]))
                cells.append(Cell(r, offset + c, shown[i * k + c], float(shown_logits[i * k + c]), False, source, {
                    **params, **row_info[r], "target_logit": columns.targets[c], "alpha": float(alphas[i, c]),
                    "latent_logit": float(latent_logits[i, c]), "original_logit": float(logits[source]),
                    "rounding_flips": int(cell_flips[i, c]),
                }))
        report(part.stop / len(rows), "generating counterfactuals")
    size = int(np.prod(images.shape[1:]))
    extra["served_rounding"] = {"tolerance": tolerance, "mean_flipped_values": float(np.mean(flips)) if flips else 0.0,
                                "max_flipped_values": int(max(flips, default=0)), "values_per_image": size}
    return cells

"""The seed study's logit-binned grids, built by calling the registered explanation methods.

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3) and the reference code
(explainers-reference-notes.md, "Study grids"):

* baseline (method ``example_based``): column j holds distinct held-out images whose logit falls in bin j;
* counterfactual (method ``counterfactual_interpolation``): rows // columns originals per bin; each original
  sits in its own bin's column with a golden frame and the rest of its row holds phi^-1(z + alpha w) with the
  logit set exactly to the column target;
* isofactual (method ``isofactual``, section 2 "PCA Isosurface"): like the counterfactual grid, but each
  row's original first moves along one principal direction of z orthogonal to w, so every column stays an
  isosurface at its target logit while the rows show what the model ignores.

Columns run from negative to positive logits, or mirrored with ``positive_on_left`` (the seed shows
Stretchy, label 1, on the left). Each generated cell records the logit of its 8-bit image as shown (its
``latent_logit`` parameter keeps the edited latent's), and the result's ``extra["faithfulness"]`` sets
those logits against the column targets (explainers.core.stimuli.faithfulness).
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
    original_rows,
)


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
    evaluations = {"forward": 0, "inverse": 0}
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
    result = GridResult(kind, layout, columns.targets, columns.edges_json(), labels, cells, timings, evaluations,
                        extra)
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
    import torch

    rows = original_rows(draw_per_bin(columns.bins, layout.originals_per_bin(), layout.columns, seed))
    sources = np.array([s for s, _ in rows])
    keep = np.ones((len(rows), layout.columns), dtype=bool)
    keep[np.arange(len(rows)), [c for _, c in rows]] = False  # the original is shown in its own bin's column
    shifts, row_info = None, [{} for _ in rows]
    if kind == "isofactual":
        isofactual = method_get("isofactual")(method_config("isofactual", params))
        reference = torch.as_tensor(z, dtype=torch.float64)
        shifts, row_info = isofactual.row_shifts(model, reference, len(rows))
        extra["isofactual_components"] = min(isofactual.config.n_components, reference.shape[1])
    counterfactual = method_get("counterfactual_interpolation")(
        method_config("counterfactual_interpolation", {"target_logits": columns.targets}))
    cells: list[Cell] = []
    chunk = max(1, layout.batch_size // layout.columns)
    for part in batches(len(rows), chunk):
        explanation = counterfactual.explain(
            model, images[sources[part]], shifts=None if shifts is None else shifts[part],
            keep=keep[part], reencode=False)
        n, k = explanation.images.shape[:2]
        shown = pixels.to_uint8(explanation.images.reshape(n * k, *explanation.images.shape[2:]))
        mask = keep[part].reshape(-1)
        shown_logits = np.full(n * k, np.nan)
        shown_logits[mask], _ = score_images(model, shown[mask], batch_size=layout.batch_size, device=device)
        evaluations["forward"] += n + int(mask.sum())
        evaluations["inverse"] += int(mask.sum())
        alphas = explanation.extra["alphas"].double().cpu().numpy()
        latent_logits = explanation.extra["target_logits_in_z"].double().cpu().numpy()
        for i, r in enumerate(range(part.start, part.stop)):
            source, own_column = rows[r]
            for c in range(layout.columns):
                if c == own_column:
                    cells.append(Cell(r, c, images[source], float(logits[source]), True, source,
                                      {**params, "bin": c, "original": True}))
                    continue
                cells.append(Cell(r, c, shown[i * k + c], float(shown_logits[i * k + c]), False, source, {
                    **params, **row_info[r], "target_logit": columns.targets[c], "alpha": float(alphas[i, c]),
                    "latent_logit": float(latent_logits[i, c]), "original_logit": float(logits[source]),
                }))
        report(part.stop / len(rows), "generating counterfactuals")
    return cells

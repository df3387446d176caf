"""ECINN stimulus grids: rows of [original | tipping point | convincing counterfactual] or ECINNh heatmaps.

Hvilshoj et al. (seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.3 and Figures 4-5) show each input
next to its alpha0 (tipping point) and alpha1 (convincing) counterfactuals; ECINNh (eq. 4) shows
h = x^ - x. A grid of kind "ecinn" or "ecinn_heatmap" has exactly three columns in that order. Its originals
are drawn like the seed's counterfactual grids (explainers.core.stimuli.logit_grid): the layout's single
percentile splits the held-out logits into three bins (confident class 0, borderline, confident class 1) and
rows // 3 distinct originals come from each bin, so a study shows ECINN on easy and on borderline inputs
alike. The target of every row is the class the model does not predict (the runner-up of a two-class model).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from explainers.core import pixels
from explainers.core.methods.binning import draw_per_bin
from explainers.core.methods.ecinn import check_class_conditional, ecinn_counterfactuals
from explainers.core.methods.ecinn_heatmap import change_map

from .encoding import ProgressCallback, batches, heatmap_rgb, model_input, pick_device, score_images
from .layout import (
    ECINN_KINDS,
    Cell,
    GridLayout,
    GridLayoutError,
    GridResult,
    check_bin_capacity,
    original_rows,
)
from .logit_grid import ColumnBins

COLUMN_LABELS = {
    "ecinn": ["Original", "Tipping point (α0)", "Convincing (α1)"],
    "ecinn_heatmap": ["Original", "Change x̂ − x at α0", "Change x̂ − x at α1"],
}


def build_ecinn_grid(model, images: np.ndarray, *, kind: str, layout: GridLayout, seed: int,
                     method_parameters: dict[str, Any] | None = None, device=None,
                     held_out: tuple[np.ndarray, np.ndarray | None] | None = None, positive_on_left: bool = False,
                     progress: ProgressCallback | None = None, labels: Sequence[str] | None = None) -> GridResult:
    """All cells of an ECINN grid (``labels`` from the caller are replaced by the three ECINN headers)."""
    import torch

    if kind not in ECINN_KINDS:
        raise GridLayoutError(f"unknown ECINN grid kind {kind!r}")
    layout.check_kind(kind)
    check_class_conditional(model, "ecinn")
    if model.num_classes != 2:
        raise GridLayoutError("ECINN grids are built for two-class checkpoints")
    params = dict(method_parameters or {})
    device = device or pick_device()
    report = progress or (lambda fraction, stage: None)
    evaluations = {"forward": 0, "inverse": 0}
    timings: dict[str, float] = {}
    model.eval()

    started = time.perf_counter()
    if held_out is not None:
        logits = held_out[0]
    else:
        logits, _ = score_images(model, images, batch_size=layout.batch_size, device=device,
                                 progress=lambda f, s: report(0.3 * f, s))
        evaluations["forward"] += len(images)
    timings["score_held_out_s"] = time.perf_counter() - started
    columns = ColumnBins.of(logits, layout, positive_on_left)
    check_bin_capacity(columns.bins, layout.originals_per_bin(), layout.columns,
                       ["confident " + ("class 1" if positive_on_left else "class 0"), "borderline",
                        "confident " + ("class 0" if positive_on_left else "class 1")])
    rows = original_rows(draw_per_bin(columns.bins, layout.originals_per_bin(), layout.columns, seed))
    sources = np.array([s for s, _ in rows])
    report(0.3, "selected originals")

    started = time.perf_counter()
    cells: list[Cell] = []
    with torch.no_grad():
        for part in batches(len(sources), layout.batch_size):
            x = model_input(model, images[sources[part]], device)
            alpha0, alpha1 = ecinn_counterfactuals(model, x, "runner_up", alphas=("alpha0", "alpha1"))
            results = {"alpha0": alpha0, "alpha1": alpha1}
            shown = {name: pixels.to_uint8(result.counterfactuals) for name, result in results.items()}
            shown_logits = {name: score_images(model, pictures, batch_size=layout.batch_size, device=device)[0]
                            for name, pictures in shown.items()}
            latent_logits = {name: model.logit_from_z(result.z_counterfactual).double().cpu().numpy()
                             for name, result in results.items()}
            changes = {name: change_map(result.counterfactuals, x) for name, result in results.items()}
            evaluations["forward"] += len(x) + 2 * len(x)
            evaluations["inverse"] += 2 * len(x)
            for i, r in enumerate(range(part.start, part.stop)):
                source = int(sources[r])
                row_parameters = {**params, "predicted_class": int(alpha0.predicted[i]),
                                  "target_class": int(alpha0.target[i]), "alpha0": float(alpha0.alpha0[i]),
                                  "alpha1": float(alpha0.alpha1[i]), "original_logit": float(logits[source])}
                cells.append(Cell(r, 0, images[source], float(logits[source]), True, source,
                                  {**params, "original": True, "bin": int(rows[r][1])}))
                scale = max(float(change[i].abs().max()) for change in changes.values())
                for column, name in ((1, "alpha0"), (2, "alpha1")):
                    if kind == "ecinn":
                        picture = shown[name][i]
                    else:
                        picture = heatmap_rgb(changes[name][i].double().cpu().numpy(), scale)
                    cells.append(Cell(r, column, picture, float(shown_logits[name][i]), False, source, {
                        **row_parameters, "alpha": float(results[name].alpha[i]), "alpha_name": name,
                        "latent_logit": float(latent_logits[name][i]),
                        **({"heatmap_scale": scale} if kind == "ecinn_heatmap" else {}),
                    }))
            report(0.3 + 0.7 * part.stop / len(sources), "generating ECINN counterfactuals")
    timings["generate_s"] = time.perf_counter() - started
    cells.sort(key=lambda cell: (cell.row, cell.column))
    return GridResult(kind, layout, columns.targets, columns.edges_json(), list(COLUMN_LABELS[kind]), cells,
                      timings, evaluations, {"bin_counts": columns.counts(layout.columns),
                                             "positive_on_left": positive_on_left, "method": kind})

"""ECINN stimulus grids: rows of [original | tipping point | convincing counterfactual] or ECINNh heatmaps.

Hvilshoj et al. (seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.3 and Figures 4-5) show each input
next to its alpha0 (tipping point) and alpha1 (convincing) counterfactuals; ECINNh (eq. 4) shows how much each
pixel changes, Σ_c |x^ - x| (explainers.core.methods.ecinn_heatmap). A grid of kind "ecinn" has the columns
[original | x^ at alpha0 | x^ at alpha1]; one of kind "ecinn_heatmap" [original | x^ at alpha | its heatmap] for
the configured ``alpha`` (alpha1 by default), every heatmap on one colour scale for the whole grid (the largest
change of any row, recorded in every heatmap cell's ``heatmap_scale``), so rows can be compared.

Originals are drawn like the seed's counterfactual grids (explainers.core.stimuli.logit_grid): the layout's
single percentile splits the held-out logits into three bins (confident class 0, borderline, confident class 1)
and rows // 3 distinct originals come from each bin, so a study shows ECINN on easy and on borderline inputs
alike. The target of a row is the class the model does not predict (the runner-up of a two-class model); with
``target_classes`` configured, only originals predicted as another class than a configured target are drawn
(e.g. [1]: images predicted as class 0, explained towards class 1), the rows spread round-robin over the bins
that hold such images.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from explainers.core import pixels
from explainers.core.methods.binning import draw_per_bin
from explainers.core.methods.ecinn import ALPHA_NAMES, check_class_conditional, check_classes, ecinn_counterfactuals
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
}
ALPHA_SYMBOLS = {"alpha0": "α0", "alpha1": "α1"}


def column_labels(kind: str, alpha: str) -> list[str]:
    if kind == "ecinn":
        return list(COLUMN_LABELS[kind])
    symbol = ALPHA_SYMBOLS[alpha]
    return ["Original", f"Counterfactual at {symbol}", f"Change |x̂ − x| at {symbol}"]


def _grid_targets(model, params: dict[str, Any], kind: str) -> tuple[tuple[int, ...], str]:
    """(explicit target classes or (), the heatmap's alpha) from the grid's validated method parameters."""
    targets = tuple(int(q) for q in params.get("target_classes") or ())
    check_classes(model, targets, kind)
    alpha = str(params.get("alpha", "alpha1"))
    if alpha not in ALPHA_NAMES:
        raise GridLayoutError(f"alpha must be one of {', '.join(ALPHA_NAMES)}, got {alpha!r}")
    return targets, alpha


def _row_targets(predicted: np.ndarray, targets: tuple[int, ...]) -> np.ndarray:
    """Each image's target: the other class, or the first configured target it is not predicted as (-1: none)."""
    if not targets:
        return 1 - predicted
    found = np.full(len(predicted), -1)
    for q in reversed(targets):
        found = np.where(predicted != q, q, found)
    return found


def _draw_rows(bins: np.ndarray, eligible: np.ndarray, layout: GridLayout, seed: int, labels: list[str]
               ) -> list[tuple[int, int]]:
    """(source, bin) of every row: per bin as the seed's grids when every image is eligible, else round-robin
    over the bins that hold eligible images."""
    if eligible.all():
        check_bin_capacity(bins, layout.originals_per_bin(), layout.columns, labels)
        return original_rows(draw_per_bin(bins, layout.originals_per_bin(), layout.columns, seed))
    used = [j for j in range(layout.columns) if (eligible & (bins == j)).any()]
    if not used:
        raise GridLayoutError("no held-out image is predicted as another class than the configured target_classes")
    remapped = np.full(len(bins), len(used))  # an extra bin that is never drawn from
    for new, j in enumerate(used):
        remapped[eligible & (bins == j)] = new
    per_bin = -(-layout.rows // len(used))
    check_bin_capacity(remapped, per_bin, len(used), [labels[j] + " (predicted as another class than the target)"
                                                      for j in used])
    rows = original_rows(draw_per_bin(remapped, per_bin, len(used), seed))[:layout.rows]
    return [(source, used[new]) for source, new in rows]


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
    targets, alpha = _grid_targets(model, params, kind)
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
    row_targets = _row_targets((np.asarray(logits) > 0).astype(int), targets)
    labels = ["confident " + ("class 1" if positive_on_left else "class 0"), "borderline",
              "confident " + ("class 0" if positive_on_left else "class 1")]
    rows = _draw_rows(columns.bins, row_targets >= 0, layout, seed, labels)
    sources = np.array([s for s, _ in rows])
    report(0.3, "selected originals")

    started = time.perf_counter()
    generated: list[dict[str, Any]] = []
    with torch.no_grad():
        for part in batches(len(sources), layout.batch_size):
            x = model_input(model, images[sources[part]], device)
            target = torch.as_tensor(row_targets[sources[part]], device=x.device)
            alpha0, alpha1 = ecinn_counterfactuals(model, x, target, alphas=("alpha0", "alpha1"))
            results = {"alpha0": alpha0, "alpha1": alpha1}
            shown = {name: pixels.to_uint8(result.counterfactuals) for name, result in results.items()}
            shown_logits = {name: score_images(model, pictures, batch_size=layout.batch_size, device=device)[0]
                            for name, pictures in shown.items()}
            latent_logits = {name: model.logit_from_z(result.z_counterfactual).double().cpu().numpy()
                             for name, result in results.items()}
            changes = {name: change_map(result.counterfactuals, x).double().cpu().numpy()
                       for name, result in results.items()}
            evaluations["forward"] += len(x) + 2 * len(x)
            evaluations["inverse"] += 2 * len(x)
            for i in range(len(x)):
                generated.append({"made": {name: {"image": shown[name][i], "logit": float(shown_logits[name][i]),
                                         "latent_logit": float(latent_logits[name][i]), "change": changes[name][i],
                                         "alpha": float(results[name].alpha[i])} for name in results},
                                  "predicted": int(alpha0.predicted[i]), "target": int(alpha0.target[i]),
                                    "alpha0": float(alpha0.alpha0[i]), "alpha1": float(alpha0.alpha1[i])})
            report(0.3 + 0.6 * part.stop / len(sources), "generating ECINN counterfactuals")
    # One colour scale for every heatmap of the grid, so that rows (and grids' rows) can be compared.
    scale = max((float(row["made"][alpha]["change"].max()) for row in generated), default=0.0)
    cells: list[Cell] = []
    for r, row in enumerate(generated):
        source = int(sources[r])
        row_parameters = {**params, "predicted_class": row["predicted"], "target_class": row["target"],
                          "alpha0": row["alpha0"], "alpha1": row["alpha1"], "original_logit": float(logits[source])}
        cells.append(Cell(r, 0, images[source], float(logits[source]), True, source,
                          {**params, "original": True, "bin": int(rows[r][1])}))
        shown_columns = (("alpha0", False), ("alpha1", False)) if kind == "ecinn" else ((alpha, False), (alpha, True))
        for column, (name, is_heatmap) in enumerate(shown_columns, start=1):
            made = row["made"][name]
            picture = heatmap_rgb(made["change"], scale) if is_heatmap else made["image"]
            cells.append(Cell(r, column, picture, made["logit"], False, source, {
                **row_parameters, "alpha": made["alpha"], "alpha_name": name, "latent_logit": made["latent_logit"],
                **({"heatmap_scale": scale} if is_heatmap else {}),
            }))
    timings["generate_s"] = time.perf_counter() - started
    cells.sort(key=lambda cell: (cell.row, cell.column))
    return GridResult(kind, layout, columns.targets, columns.edges_json(), column_labels(kind, alpha), cells,
                      timings, evaluations, {"bin_counts": columns.counts(layout.columns),
                                             "positive_on_left": positive_on_left, "method": kind,
                                             **({"heatmap_scale": scale} if kind == "ecinn_heatmap" else {})})

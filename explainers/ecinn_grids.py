"""ECINN stimulus grids: rows of [original | tipping point | convincing counterfactual] or ECINNh heatmaps.

Hvilshoj et al. (seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.3 and Figures 4-5) show each input
next to its alpha0 (tipping point) and alpha1 (convincing) counterfactuals; ECINNh (eq. 4) shows
h = x^ - x. A grid of kind "ecinn" or "ecinn_heatmap" has exactly three columns in that order. Its originals
are drawn like the seed's counterfactual grids (explainers.grids): the layout's single percentile splits the
held-out logits into three bins (confident class 0, borderline, confident class 1) and rows // 3 distinct
originals come from each bin, so a study shows ECINN on easy and on borderline inputs alike. The target of
every row is the class the model does not predict (the grids serve two-class Two4Two checkpoints).

Plain torch / numpy; called from explainers.grids.build_grid.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

ECINN_GRID_KINDS = ("ecinn", "ecinn_heatmap")
ECINN_COLUMNS = 3
COLUMN_LABELS = {
    "ecinn": ["Original", "Tipping point (α0)", "Convincing (α1)"],
    "ecinn_heatmap": ["Original", "Change x̂ − x at α0", "Change x̂ − x at α1"],
}
#: Architectures whose latents are class-conditional (what ECINN needs).
CLASS_CONDITIONAL_ARCHITECTURES = ("ibinn",)


def check_ecinn_layout(kind: str, rows: int, columns: int) -> None:
    from explainers.grids import GridLayoutError

    if columns != ECINN_COLUMNS:
        raise GridLayoutError(
            f"a grid of kind {kind!r} has three columns (original, tipping point α0, convincing α1): set layout "
            f"columns to 3 and give one percentile, e.g. percentiles [50]"
        )
    if rows % columns:
        raise GridLayoutError(f"a grid of kind {kind!r} draws the same number of originals from each of the three "
                              f"logit bins, so rows ({rows}) must be a multiple of 3")


def check_ecinn_architecture(kind: str, architecture: str) -> None:
    from explainers.grids import GridLayoutError

    if kind in ECINN_GRID_KINDS and architecture not in CLASS_CONDITIONAL_ARCHITECTURES:
        raise GridLayoutError(
            f"ECINN needs a checkpoint with class-conditional latents (architecture 'ibinn'); this checkpoint's "
            f"architecture is {architecture!r}. Train one with `python manage.py train_ibinn --preset two4two`."
        )


def heatmap_rgb(heat: np.ndarray, scale: float) -> np.ndarray:
    """H×W signed values -> H×W×3 uint8 on a diverging map (blue negative, white 0, red positive)."""
    from matplotlib import colormaps

    normalised = 0.5 + 0.5 * np.clip(heat / max(scale, 1e-12), -1.0, 1.0)
    return (colormaps["RdBu_r"](normalised)[..., :3] * 255).round().astype(np.uint8)


def build_ecinn_grid(model, images: np.ndarray, *, kind: str, layout, seed: int,
                     method_parameters: dict[str, Any] | None = None, device=None,
                     held_out: tuple[np.ndarray, np.ndarray | None] | None = None, positive_on_left: bool = False,
                     progress=None, labels: Sequence[str] | None = None):
    """All cells of an ECINN grid (``labels`` from the caller are replaced by the three ECINN headers)."""
    import torch

    from explainers import grids
    from explainers.methods.ecinn import check_class_conditional, convincing_alpha, ecinn_direction, tipping_alpha

    if kind not in ECINN_GRID_KINDS:
        raise grids.GridLayoutError(f"unknown ECINN grid kind {kind!r}")
    check_ecinn_layout(kind, layout.rows, layout.columns)
    check_class_conditional(model, "ecinn")
    if model.num_classes != 2:
        raise grids.GridLayoutError("ECINN grids are built for two-class checkpoints")
    params = dict(method_parameters or {})
    device = device or grids.pick_device()
    report = progress or (lambda fraction, stage: None)
    evaluations = {"forward": 0, "inverse": 0}
    timings: dict[str, float] = {}
    model.eval()

    started = time.perf_counter()
    if held_out is not None:
        logits = held_out[0]
    else:
        logits, _ = grids.held_out_logits(model, images, batch_size=layout.batch_size, device=device,
                                          progress=lambda f, s: report(0.3 * f, s))
        evaluations["forward"] += len(images)
    timings["score_held_out_s"] = time.perf_counter() - started
    sign = -1.0 if positive_on_left else 1.0
    targets = sign * grids.column_targets(logits, layout.percentiles)
    edges = grids.bin_edges(sign * targets)
    bins = grids.assign_bins(sign * logits, edges)
    header = list(COLUMN_LABELS[kind])
    grids.check_bin_capacity(bins, layout.originals_per_bin(), layout.columns,
                             ["confident " + ("class 1" if positive_on_left else "class 0"), "borderline",
                              "confident " + ("class 0" if positive_on_left else "class 1")])
    rows = grids.original_rows(grids.draw_per_bin(bins, layout.originals_per_bin(), layout.columns, seed))
    sources = np.array([s for s, _ in rows])
    report(0.3, "selected originals")

    started = time.perf_counter()
    cells: list[grids.Cell] = []
    with torch.no_grad():
        for part in grids._batches(len(sources), layout.batch_size):
            x = grids.to_tensor(images[sources[part]], device).to(next(model.parameters()).dtype)
            latent = model.encode(x)
            z = latent.z
            class_logits = model.class_logits_from_z(z)
            predicted = class_logits.argmax(1)
            target = 1 - predicted
            delta, w, b = ecinn_direction(model, predicted, target)
            alpha0 = tipping_alpha(z, delta, w, b)
            alpha1 = convincing_alpha(alpha0)
            evaluations["forward"] += len(x)
            decoded = {}
            for name, alpha in (("alpha0", alpha0), ("alpha1", alpha1)):
                z_new = z + alpha[:, None] * delta
                decoded[name] = (model.decode(latent.with_z(z_new)), model.logit_from_z(z_new))
                evaluations["inverse"] += len(x)
            for i, r in enumerate(range(part.start, part.stop)):
                source = int(sources[r])
                row_parameters = {**params, "predicted_class": int(predicted[i]), "target_class": int(target[i]),
                                  "alpha0": float(alpha0[i]), "alpha1": float(alpha1[i]),
                                  "original_logit": float(logits[source])}
                cells.append(grids.Cell(r, 0, images[source], float(logits[source]), True, source,
                                        {**params, "original": True, "bin": int(rows[r][1])}))
                original = x[i]
                changes = {name: decoded[name][0][i] - original for name in decoded}
                scale = max(float(change.sum(0).abs().max()) for change in changes.values())
                for column, name in ((1, "alpha0"), (2, "alpha1")):
                    counterfactual, edited_logit = decoded[name][0][i], decoded[name][1][i]
                    if kind == "ecinn":
                        picture = grids.to_uint8(counterfactual[None])[0]
                    else:
                        picture = heatmap_rgb(changes[name].sum(0).double().cpu().numpy(), scale)
                    cells.append(grids.Cell(r, column, picture, float(edited_logit), False, source, {
                        **row_parameters, "alpha": float(alpha0[i] if name == "alpha0" else alpha1[i]),
                        "alpha_name": name, **({"heatmap_scale": scale} if kind == "ecinn_heatmap" else {}),
                    }))
            report(0.3 + 0.7 * part.stop / len(sources), "generating ECINN counterfactuals")
    timings["generate_s"] = time.perf_counter() - started
    cells.sort(key=lambda cell: (cell.row, cell.column))
    edges_json = [None if not np.isfinite(e) else float(e) for e in sign * edges]
    return grids.GridResult(kind, layout, [float(t) + 0.0 for t in targets], edges_json, header, cells, timings,
                            evaluations, {"bin_counts": np.bincount(bins, minlength=layout.columns).tolist(),
                                          "positive_on_left": positive_on_left, "method": kind})

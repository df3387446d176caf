"""Bias audit and ideal-counterfactual check of an invertible classifier on Two4Two.

1. Table 3 of Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, appendix C): for every
   Two4Two parameter, the correlation between the parameter and the model's output on test data
   ("Corr. Data", confounded by the sampler's biases) and the correlation when only that parameter is
   re-sampled from its marginal with all others fixed ("Corr. Change", its causal effect), each with a 95%
   confidence interval (Fisher z). The paper correlates with the predicted probability; we report the
   probability (as in Table 3) and the logit.
2. Ideal counterfactuals (section 2, definition 2.2): a counterfactual should change only what the model
   uses. A counterfactual grid is built on test images by the code that writes the study's grids, and
   explainers.core.evaluation.counterfactual_quality reads every parameter from its served cells: the slope
   of each read-out per unit logit shows what the counterfactuals change (arm position most, the planted
   colour bias somewhat, background and the other irrelevant parameters close to zero), and the served
   cells' logits show how faithful the grid is.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch

from explainers.core.datasets import two4two
from explainers.core.methods._base import logits_batched
from explainers.core.pixels import to_tensor
from explainers.core.stimuli.layout import GridLayout
from explainers.core.stimuli.logit_grid import build_logit_grid

from .counterfactual_quality import REGRESSED_PARAMETERS, grid_quality, ideal_pattern, train_regressors

#: Audited parameters: (report name, record key, transform). Rotation is audited as |yaw| like Table 3.
AUDIT_PARAMETERS: tuple[tuple[str, str, Callable[[float], float]], ...] = (
    ("arm_position", "arm_position", float),
    ("obj_color", "obj_color", float),
    ("spherical", "spherical", float),
    ("bg_color", "bg_color", float),
    ("bending", "bending", float),
    ("abs_rotation_yaw", "obj_rotation_yaw", abs),
    ("rotation_pitch", "obj_rotation_pitch", float),
    # The renderer's yaw turns the animal in the image plane; pitch turns it about the vertical image axis and
    # foreshortens it, like the seed's Blender rotation, so the seed's "Abs. Rotation" is |pitch| here.
    ("abs_rotation_pitch", "obj_rotation_pitch", abs),
    ("rotation_roll", "obj_rotation_roll", float),
    ("position_x", "position_x", float),
    ("position_y", "position_y", float),
)

__all__ = ["AUDIT_PARAMETERS", "REGRESSED_PARAMETERS", "audit_checkpoint", "correlation_table", "format_text",
           "pearson_ci"]


def pearson_ci(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Pearson r with a Fisher-z confidence interval."""
    from scipy import stats

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    if n < 4 or x.std() == 0 or y.std() == 0:
        return {"r": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": n}
    r = float(np.corrcoef(x, y)[0, 1])
    z = math.atanh(max(min(r, 0.999999), -0.999999))
    half = stats.norm.ppf(0.5 + level / 2) / math.sqrt(n - 3)
    return {"r": r, "ci_low": math.tanh(z - half), "ci_high": math.tanh(z + half), "n": n}


@torch.no_grad()
def _outputs(model, images: np.ndarray) -> np.ndarray:
    parameter = next(model.parameters())
    x = to_tensor(images, parameter.dtype).to(parameter.device)
    return logits_batched(model, x).cpu().numpy().astype(np.float64)


def correlation_table(model, *, sampler: str, size: int, n: int, seed: int,
                      progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Table 3: Corr. Data and Corr. Change per parameter, for the probability and the logit."""
    images, _, params = two4two.sample(n, seed, sampler, size)
    logits = _outputs(model, images)
    # Fresh records of the same sampler supply the re-sampled values: each parameter's marginal.
    _, _, donors = two4two.sample(n, seed + 7919, sampler, size=8)
    rows = []
    for name, key, transform in AUDIT_PARAMETERS:
        if progress:
            progress(f"correlation {name}")
        values = np.array([transform(p[key]) for p in params])
        changed_params = [dict(p, **{key: d[key]}) for p, d in zip(params, donors)]
        changed_logits = _outputs(model, two4two.render_many(changed_params, size))
        changed_values = np.array([transform(p[key]) for p in changed_params])
        rows.append({
            "parameter": name,
            "data_probability": pearson_ci(values, _sigmoid(logits)),
            "change_probability": pearson_ci(changed_values, _sigmoid(changed_logits)),
            "data_logit": pearson_ci(values, logits),
            "change_logit": pearson_ci(changed_values, changed_logits),
        })
    return rows


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def audit_checkpoint(loaded, *, n_test: int = 1000, n_regression: int = 6000, n_rows: int = 64, seed: int = 0,
                     regressor_steps: int = 2500, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Both audits for a loaded checkpoint (see the module docstring); JSON-serialisable.

    The ideal-counterfactual check builds a study counterfactual grid (``n_rows`` rounded up to a multiple of
    its five columns) from ``n_test`` test images and measures its served cells.
    """
    model = loaded.model.eval()
    size = int(loaded.dataset.get("size", model.config.image_size))
    sampler = loaded.dataset.get("sampler", "study")
    test_seed = 424_242 + seed  # a stream the training and validation data never used
    table = correlation_table(model, sampler=sampler, size=size, n=n_test, seed=test_seed, progress=progress)
    if progress:
        progress("training the parameter read-out regressors")
    readout = train_regressors(size=size, n=n_regression, seed=seed + 17, steps=regressor_steps)
    if progress:
        progress("reading parameters along the rows of a counterfactual grid")
    test_images, _, _ = two4two.sample(n_test, test_seed + 1, sampler, size)
    columns = GridLayout().columns
    rows = max(1, math.ceil(n_rows / columns)) * columns
    layout = GridLayout(rows=rows, held_out=max(n_test, rows * columns), batch_size=50)
    grid = build_logit_grid(model, test_images, kind="counterfactual", layout=layout, seed=seed,
                            device=next(model.parameters()).device)
    quality = grid_quality(grid, readout)
    change = quality["change_per_logit"]
    return {
        "sampler": sampler, "size": size, "n_test": n_test, "seed": seed,
        "correlations": table,
        "ideal_counterfactuals": {"targets": quality["targets"], "n_rows": rows, "parameters": change,
                                  "pattern": ideal_pattern(change), "faithfulness": quality["faithfulness"]},
    }


def format_text(report: dict[str, Any]) -> str:
    """A plain-text rendering of the audit (the seed's Table 3 layout plus the read-out slopes)."""
    lines = [f"Bias audit ({report['sampler']} sampler, {report['size']} px, n = {report['n_test']})", ""]
    lines.append(f"{'parameter':<18} {'corr. data':>10} {'CI95%':>17} {'corr. change':>13} {'CI95%':>17}"
                 f" {'(logit: data':>13} {'change)':>8}")
    for row in report["correlations"]:
        d, c = row["data_probability"], row["change_probability"]
        lines.append(
            f"{row['parameter']:<18} {d['r']:>10.3f} {d['ci_low']:>8.3f},{d['ci_high']:>7.3f} "
            f"{c['r']:>13.3f} {c['ci_low']:>8.3f},{c['ci_high']:>7.3f} "
            f"{row['data_logit']['r']:>13.3f} {row['change_logit']['r']:>8.3f}"
        )
    ideal = report["ideal_counterfactuals"]
    faithful = ideal["faithfulness"]
    lines += ["", "Ideal-counterfactual check: change of each read-out parameter per unit logit along the "
              f"{ideal['n_rows']} rows of a counterfactual grid (targets "
              f"{', '.join(f'{t:.2f}' for t in ideal['targets'])}); pattern "
              f"{'holds' if ideal['pattern']['passes'] else 'does NOT hold'} {ideal['pattern']['checks']}",
              f"Served cells: mean |logit - target| {faithful['mean_abs_error']:.4f} (max "
              f"{faithful['max_abs_error']:.4f}, target spacing {faithful['target_spacing']:.3f}); monotone rows "
              f"{faithful['monotone_rows']}/{faithful['rows']}",
              f"{'parameter':<20} {'std units/logit':>16} {'± sem':>8} {'|.| mean':>9} {'raw units/logit':>16}"
              f" {'read-out R²':>12}"]
    for key, values in sorted(ideal["parameters"].items(), key=lambda kv: -kv[1]["abs_per_logit_std_units"]):
        lines.append(f"{key:<20} {values['per_logit_std_units']:>16.4f} {values['sem_std_units']:>8.4f} "
                     f"{values['abs_per_logit_std_units']:>9.4f} {values['per_logit']:>16.4f} "
                     f"{values['readout_r2']:>12.3f}")
    return "\n".join(lines)

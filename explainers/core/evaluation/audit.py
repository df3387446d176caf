"""Bias audit and ideal-counterfactual check of an invertible classifier on Two4Two.

1. Table 3 of Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, appendix C): for every
   Two4Two parameter, the correlation between the parameter and the model's output on test data
   ("Corr. Data", confounded by the sampler's biases) and the correlation when only that parameter is
   re-sampled from its marginal with all others fixed ("Corr. Change", its causal effect), each with a 95%
   confidence interval (Fisher z). The paper correlates with the predicted probability; we report the
   probability (as in Table 3) and the logit.
2. Ideal counterfactuals (section 2, definition 2.2): a counterfactual should change only what the model
   uses. Small CNN regressors, trained on rendered images of the *unbiased* sampler, read every parameter
   from an image; applied along counterfactual rows (logit set to a range of targets), the slope of each
   read-out per unit logit shows what the counterfactuals change: arm position most, the planted colour
   bias somewhat, background and the other irrelevant parameters close to zero.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explainers.core.datasets import two4two
from explainers.core.methods._base import decode_batched, logits_batched
from explainers.core.methods.binning import symmetric_targets
from explainers.core.methods.counterfactual_interpolation import set_logit
from explainers.core.pixels import to_tensor

#: Audited parameters: (report name, record key, transform). Rotation is audited as |yaw| like Table 3.
AUDIT_PARAMETERS: tuple[tuple[str, str, Callable[[float], float]], ...] = (
    ("arm_position", "arm_position", float),
    ("obj_color", "obj_color", float),
    ("spherical", "spherical", float),
    ("bg_color", "bg_color", float),
    ("bending", "bending", float),
    ("abs_rotation_yaw", "obj_rotation_yaw", abs),
    ("rotation_pitch", "obj_rotation_pitch", float),
    ("rotation_roll", "obj_rotation_roll", float),
    ("position_x", "position_x", float),
    ("position_y", "position_y", float),
)

#: Parameters the regressors read for the ideal-counterfactual check (roll is too small to read).
REGRESSED_PARAMETERS = ("arm_position", "obj_color", "spherical", "bg_color", "bending", "obj_rotation_yaw",
                        "obj_rotation_pitch", "position_x", "position_y")


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
    dtype = next(model.parameters()).dtype
    return logits_batched(model, to_tensor(images, dtype)).cpu().numpy().astype(np.float64)


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


class ParameterRegressor(nn.Module):
    """A small CNN reading the standardised Two4Two parameters from an image."""

    def __init__(self, outputs: int, size: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.head = nn.Linear(64 * (size // 8) ** 2, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def train_regressors(*, size: int, n: int, seed: int, steps: int = 600, batch_size: int = 64
                     ) -> tuple[ParameterRegressor, np.ndarray, np.ndarray, dict[str, float]]:
    """Train the read-out CNN on unbiased-sampler images; returns (net, mean, std, held-out R² per parameter)."""
    images, _, params = two4two.sample(n, seed, "unbiased", size)
    targets = np.array([[p[k] for k in REGRESSED_PARAMETERS] for p in params], dtype=np.float64)
    mean, std = targets.mean(0), targets.std(0) + 1e-8
    x = to_tensor(images)
    y = torch.from_numpy((targets - mean) / std).float()
    held_out = max(1, n // 10)
    x_train, y_train, x_test, y_test = x[held_out:], y[held_out:], x[:held_out], y[:held_out]
    torch.manual_seed(seed)
    net = ParameterRegressor(len(REGRESSED_PARAMETERS), size)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    generator = np.random.default_rng(seed)
    for step in range(steps):
        index = torch.from_numpy(generator.integers(0, len(x_train), batch_size))
        loss = F.mse_loss(net(x_train[index]), y_train[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    with torch.no_grad():
        predicted = net(x_test)
    residual = ((predicted - y_test) ** 2).mean(0)
    total = y_test.var(0, unbiased=False) + 1e-12
    r2 = {k: float(1 - residual[i] / total[i]) for i, k in enumerate(REGRESSED_PARAMETERS)}
    return net, mean, std, r2


@torch.no_grad()
def counterfactual_readout(model, regressor: ParameterRegressor, mean: np.ndarray, std: np.ndarray, *,
                           sampler: str, size: int, n_rows: int, seed: int, targets: list[float]
                           ) -> dict[str, dict[str, float]]:
    """Slope of every read-out parameter per unit logit along counterfactual rows (mean over rows)."""
    dtype = next(model.parameters()).dtype
    images, _, _ = two4two.sample(n_rows, seed, sampler, size)
    latent = model.encode(to_tensor(images, dtype))
    k = len(targets)
    rows = latent.repeat_each(k)
    target_tensor = torch.tensor(targets, dtype=dtype).repeat(n_rows)
    decoded = decode_batched(model, rows.with_z(set_logit(model, rows.z, target_tensor))).clamp(0, 1)
    readout = regressor(decoded.float()).double().view(n_rows, k, -1).numpy()  # standardised units
    t = np.asarray(targets, dtype=np.float64)
    t_centred = t - t.mean()
    slopes = ((readout - readout.mean(1, keepdims=True)) * t_centred[None, :, None]).sum(1) / (t_centred ** 2).sum()
    result = {}
    for index, key in enumerate(REGRESSED_PARAMETERS):
        per_row = slopes[:, index]
        result[key] = {
            "per_logit_std_units": float(per_row.mean()),
            "per_logit": float(per_row.mean() * std[index]),
            "abs_per_logit_std_units": float(np.abs(per_row).mean()),
            "sem_std_units": float(per_row.std(ddof=1) / math.sqrt(len(per_row))) if len(per_row) > 1 else 0.0,
        }
    return result


def audit_checkpoint(loaded, *, n_test: int = 1000, n_regression: int = 6000, n_rows: int = 64, seed: int = 0,
                     regressor_steps: int = 2500, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Both audits for a loaded checkpoint (see the module docstring); JSON-serialisable."""
    model = loaded.model.eval()
    size = int(loaded.dataset.get("size", model.config.image_size))
    sampler = loaded.dataset.get("sampler", "study")
    test_seed = 424_242 + seed  # a stream the training and validation data never used
    table = correlation_table(model, sampler=sampler, size=size, n=n_test, seed=test_seed, progress=progress)
    if progress:
        progress("training the parameter read-out regressors")
    regressor, mean, std, r2 = train_regressors(size=size, n=n_regression, seed=seed + 17, steps=regressor_steps)
    test_images, _, _ = two4two.sample(min(n_test, 1000), test_seed, sampler, size)
    targets = symmetric_targets(_outputs(model, test_images))
    if progress:
        progress("reading parameters along counterfactual rows")
    readout = counterfactual_readout(model, regressor, mean, std, sampler=sampler, size=size, n_rows=n_rows,
                                     seed=test_seed + 1, targets=targets)
    for key in readout:
        readout[key]["readout_r2"] = r2[key]
    return {
        "sampler": sampler, "size": size, "n_test": n_test, "seed": seed,
        "correlations": table,
        "ideal_counterfactuals": {"targets": targets, "n_rows": n_rows, "parameters": readout},
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
    lines += ["", "Ideal-counterfactual check: change of each read-out parameter per unit logit along "
              f"{ideal['n_rows']} counterfactual rows (targets {', '.join(f'{t:.2f}' for t in ideal['targets'])})",
              f"{'parameter':<20} {'std units/logit':>16} {'± sem':>8} {'|.| mean':>9} {'raw units/logit':>16}"
              f" {'read-out R²':>12}"]
    for key, values in sorted(ideal["parameters"].items(), key=lambda kv: -kv[1]["abs_per_logit_std_units"]):
        lines.append(f"{key:<20} {values['per_logit_std_units']:>16.4f} {values['sem_std_units']:>8.4f} "
                     f"{values['abs_per_logit_std_units']:>9.4f} {values['per_logit']:>16.4f} "
                     f"{values['readout_r2']:>12.3f}")
    return "\n".join(lines)

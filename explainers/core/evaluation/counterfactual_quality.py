"""Is a counterfactual grid what the seed promises? Ideal (it changes what the model uses) and faithful (the
images shown have the logits their columns claim).

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt): definition 2.2 calls x~ an *ideal*
counterfactual when every property unrelated to the prediction stays the same; section 2 calls
x~ = phi^-1(z + alpha w) *faithful* because it "will correspond exactly to the logit offset alpha w^T w".
Both are measured here on the 8-bit images a grid serves (a :class:`GridResult` from
explainers.core.stimuli, the code path that writes the stimulus files), not on the edited latents:

* **read-out** - a small CNN trained on images of the unbiased Two4Two sampler reads every scene parameter
  from an image; along each row (the original and its counterfactuals) the least-squares slope of each
  read-out against the cells' logits is the change of that parameter per unit logit. On the seed's model the
  arms should change most, the planted colour bias less, background, bending, position and block shape
  hardly at all (the Two4Two rows of Figure 7b);
* **faithfulness** - explainers.core.stimuli.faithfulness: the logit of each served counterfactual cell
  against its column's target, and the share of rows whose logits rise monotonically.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explainers.core.datasets import two4two
from explainers.core.pixels import to_tensor
from explainers.core.stimuli.faithfulness import faithfulness, grid_rows

#: Parameters the regressors read (roll is too small to read from an image).
REGRESSED_PARAMETERS = ("arm_position", "obj_color", "spherical", "bg_color", "bending", "obj_rotation_yaw",
                        "obj_rotation_pitch", "position_x", "position_y")


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


class ParameterReadout:
    """A trained :class:`ParameterRegressor` with the standardisation of its targets and its held-out R²."""

    def __init__(self, net: ParameterRegressor, mean: np.ndarray, std: np.ndarray, r2: dict[str, float]):
        self.net, self.mean, self.std, self.r2 = net.eval(), mean, std, r2

    @torch.no_grad()
    def read(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """uint8 N×H×W×3 -> N×P read-outs in standard deviations of the unbiased sampler."""
        parts = [self.net(to_tensor(images[s:s + batch_size])).double().numpy()
                 for s in range(0, len(images), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, len(REGRESSED_PARAMETERS)))


def train_regressors(*, size: int, n: int, seed: int, steps: int = 600, batch_size: int = 64) -> ParameterReadout:
    """Train the read-out CNN on unbiased-sampler images (the last 10 % held out for R²)."""
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
    for _ in range(steps):
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
    return ParameterReadout(net, mean, std, r2)


def row_slopes(readouts: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Least-squares slope of each read-out against the logit, per row: R×C×P and R×C -> R×P."""
    centred = logits - logits.mean(1, keepdims=True)
    denominator = (centred ** 2).sum(1)
    denominator = np.where(denominator > 0, denominator, np.nan)
    return ((readouts - readouts.mean(1, keepdims=True)) * centred[..., None]).sum(1) / denominator[:, None]


def change_per_logit(readout: ParameterReadout, images: np.ndarray, logits: np.ndarray) -> dict[str, dict[str, float]]:
    """Change of every read-out parameter per unit logit along rows (R×C×H×W×3 images, R×C logits)."""
    r, c = logits.shape
    values = readout.read(images.reshape(r * c, *images.shape[2:])).reshape(r, c, -1)
    slopes = row_slopes(values, logits)
    result = {}
    for index, key in enumerate(REGRESSED_PARAMETERS):
        per_row = slopes[:, index][np.isfinite(slopes[:, index])]
        count = len(per_row)
        result[key] = {
            "per_logit_std_units": float(per_row.mean()) if count else float("nan"),
            "per_logit": float(per_row.mean() * readout.std[index]) if count else float("nan"),
            "abs_per_logit_std_units": float(np.abs(per_row).mean()) if count else float("nan"),
            "sem_std_units": float(per_row.std(ddof=1) / math.sqrt(count)) if count > 1 else 0.0,
            "readout_r2": readout.r2[key],
        }
    return result


def grid_quality(result, readout: ParameterReadout | None = None) -> dict[str, Any]:
    """Faithfulness (and, given a read-out, the change per unit logit) of a counterfactual/isofactual grid."""
    images, logits, original, targets = grid_rows(result)
    report: dict[str, Any] = {"kind": result.kind, "targets": list(result.targets),
                              "faithfulness": faithfulness(logits, original, targets)}
    if readout is not None:
        # along the row's line through the latent space only: an isofactual row's opening original is not on it
        on_line = np.isfinite(targets)
        report["change_per_logit"] = change_per_logit(readout, images[:, on_line], logits[:, on_line])
    return report


#: The ideal-counterfactual pattern of the seed's Two4Two model: the class feature first, the planted colour
#: bias visible, and these irrelevant parameters each below IRRELEVANT_SHARE of the arms' change.
IRRELEVANT = ("bg_color", "bending", "position_x", "position_y", "spherical")
IRRELEVANT_SHARE = 0.35
#: A read-out explaining less of its parameter's variance than this (held-out R²) cannot show whether the
#: parameter changes; such parameters are reported as unreadable and left out of the irrelevant check.
MIN_READOUT_R2 = 0.5


def ideal_pattern(change: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Does the arm position change most per unit logit, colour visibly but less, the irrelevant ones little?"""
    size = {key: abs(values["per_logit_std_units"]) for key, values in change.items()}
    arm = size["arm_position"]
    ranking = sorted(size, key=lambda key: -size[key])
    unreadable = sorted(k for k, v in change.items() if v.get("readout_r2", 1.0) < MIN_READOUT_R2)
    checks = {
        "arm_position_largest": ranking[0] == "arm_position",
        "colour_smaller_than_arms": size["obj_color"] < arm,
        "irrelevant_small": all(size[key] <= IRRELEVANT_SHARE * arm for key in IRRELEVANT if key not in unreadable),
    }
    return {"ranking": ranking, "relative_to_arms": {k: (v / arm if arm > 0 else float("nan")) for k, v in size.items()},
            "unreadable": unreadable, "checks": checks, "passes": all(checks.values())}


# ---------------------------------------------------------------------------------------- files and figure

def readout_save(readout: ParameterReadout, path, *, size: int) -> str:
    """Write a trained read-out (weights, standardisation, R², image size) with a sha256 sidecar."""
    import io
    import os
    from pathlib import Path

    from explainers.core.training.checkpoints import sha256_file

    path = Path(path)
    buffer = io.BytesIO()
    torch.save({"format": "studyserver.two4two_readout.v1", "size": size, "parameters": list(REGRESSED_PARAMETERS),
                "state_dict": readout.net.state_dict(), "mean": readout.mean.tolist(), "std": readout.std.tolist(),
                "r2": readout.r2}, buffer)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    digest = sha256_file(path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def readout_load(path) -> tuple[ParameterReadout, int]:
    """(read-out, image size) from :func:`readout_save`'s file; a changed file raises CheckpointError."""
    from pathlib import Path

    from explainers.core.errors import CheckpointError
    from explainers.core.training.checkpoints import sha256_file

    path = Path(path)
    sidecar = path.with_name(path.name + ".sha256")
    if not path.is_file() or not sidecar.is_file():
        raise CheckpointError(f"read-out file {path} or its .sha256 sidecar is missing")
    if sha256_file(path) != sidecar.read_text().split()[0]:
        raise CheckpointError(f"read-out file {path.name} does not match its recorded sha256")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != "studyserver.two4two_readout.v1" or payload.get("parameters") != list(
            REGRESSED_PARAMETERS):
        raise CheckpointError(f"{path.name} is not a Two4Two read-out of this version")
    net = ParameterRegressor(len(REGRESSED_PARAMETERS), int(payload["size"]))
    net.load_state_dict(payload["state_dict"])
    readout = ParameterReadout(net, np.asarray(payload["mean"]), np.asarray(payload["std"]), dict(payload["r2"]))
    return readout, int(payload["size"])


#: Display names of the read-out parameters in figures.
PARAMETER_LABELS = {"arm_position": "arm position", "obj_color": "object colour", "spherical": "block shape",
                    "bg_color": "background", "bending": "bending", "obj_rotation_yaw": "rotation (yaw)",
                    "obj_rotation_pitch": "rotation (pitch)", "position_x": "position x", "position_y": "position y"}


def quality_figure(images: np.ndarray, original: np.ndarray, labels, change: dict[str, dict[str, float]], path, *,
                   rows: int = 5, title: str = "") -> None:
    """A PNG: the first ``rows`` rows of a counterfactual grid (originals framed in gold) beside a bar chart of
    each parameter's change per unit logit along all rows (± s.e.m.)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    shown = min(rows, images.shape[0])
    columns = images.shape[1]
    figure = plt.figure(figsize=(4 + 1.3 * columns, 0.4 + 1.3 * shown), dpi=110)
    grid = figure.add_gridspec(shown, columns + 4, wspace=0.08, hspace=0.08)
    for r in range(shown):
        for c in range(columns):
            axis = figure.add_subplot(grid[r, c])
            axis.imshow(images[r, c], interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if original[r, c]:
                axis.add_patch(Rectangle((0, 0), 1, 1, transform=axis.transAxes, fill=False, lw=4,
                                         edgecolor=(212 / 255, 160 / 255, 23 / 255)))
            if r == 0:
                axis.set_title(str(labels[c]).replace(", ", ",\n"), fontsize=7)
    bars = figure.add_subplot(grid[:, columns + 1:])
    keys = sorted(change, key=lambda k: abs(change[k]["per_logit_std_units"]))
    values = [abs(change[k]["per_logit_std_units"]) for k in keys]
    errors = [change[k]["sem_std_units"] for k in keys]
    colours = ["#c0392b" if k == "arm_position" else "#e67e22" if k == "obj_color" else "#7f8c8d" for k in keys]
    bars.barh([PARAMETER_LABELS.get(k, k) for k in keys], values, xerr=errors, color=colours)
    bars.set_xlabel("|change| per unit logit\n(std. units of the unbiased sampler)", fontsize=8)
    bars.tick_params(labelsize=8)
    bars.set_title(title or "What the counterfactuals change", fontsize=9)
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)


def shipped_readout(size: int) -> ParameterReadout | None:
    """The read-out the project ships for ``size`` px Two4Two images (explainers/checkpoints/), or None."""
    from explainers.core.training.shipped import SHIPPED_DIR

    path = SHIPPED_DIR / f"two4two-readout-{size}.pt"
    if not path.is_file():
        return None
    readout, trained_size = readout_load(path)
    return readout if trained_size == size else None


def grid_quality_report(result, readout: ParameterReadout, directory, *, figure_name: str = "quality.png"
                        ) -> dict[str, Any]:
    """:func:`grid_quality` plus the seed's pattern check, with the figure written to ``directory``."""
    from pathlib import Path

    report = grid_quality(result, readout)
    report["pattern"] = ideal_pattern(report["change_per_logit"])
    images, _, original, _ = grid_rows(result)
    quality_figure(images, original, result.labels, report["change_per_logit"], Path(directory) / figure_name)
    report["figure"] = figure_name
    return report

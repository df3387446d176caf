"""The seed's validity check of attributions: integrate them and see what else changes.

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.2, Figure 3, appendix A.2):
amplifying the features an attribution highlights should raise the logit, and an ideal explanation should
do so without touching properties unrelated to the prediction, xi = E z (E: principal components of z
orthogonal to w). Each method's attribution v(x) is integrated with Euler steps x <- x + gamma v(x):

* ``gradient``: v = d logit / dx (the raw gradient behind saliency, LRP, integrated gradients);
* ``smoothgrad``: v = the gradient averaged over noisy copies (Captum NoiseTunnel, stdevs 0.15);
* ``directional_derivative``: v = d phi^-1(z + t w) / dt at t = 0 = J_{phi^-1}(z) w, whose flow is the
  counterfactual path phi^-1(z + t w).

To compare like with like, every step's size gamma is chosen so that, to first order, it raises the logit
by the same amount (gamma = delta / (grad . v)); the methods then differ only in *how* they reach the logit
change. We report the logit change, how far z moved orthogonally to w relative to along w, and the change
of the standardised principal components xi (in standard deviations of the reference data).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

METHODS = ("gradient", "smoothgrad", "directional_derivative")


@dataclass(frozen=True)
class ComparisonSettings:
    steps: int = 10
    logit_change: float = 2.0
    smoothgrad_samples: int = 10
    smoothgrad_stdevs: float = 0.15
    components: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not 1 <= self.steps <= 1000:
            raise ValueError(f"steps must be an integer between 1 and 1000, got {self.steps!r}")
        if not isinstance(self.logit_change, (int, float)) or not self.logit_change > 0:
            raise ValueError(f"logit_change must be positive, got {self.logit_change!r}")
        if isinstance(self.components, bool) or not isinstance(self.components, int) or self.components < 1:
            raise ValueError(f"components must be a positive integer, got {self.components!r}")


def _gradient(model, x: Tensor) -> Tensor:
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.logit(x).sum(), x)
    return grad


def _smoothgrad(model, x: Tensor, settings: ComparisonSettings, step: int) -> Tensor:
    from explainers.core.methods.gradients import SmoothGrad

    method = SmoothGrad(SmoothGrad.Config(stdevs=settings.smoothgrad_stdevs, samples=settings.smoothgrad_samples,
                                          absolute=False, seed=settings.seed + step))
    return method.attribute(model, x, target=1)[1]


def _directional_derivative(model, x: Tensor) -> Tensor:
    """J_{phi^-1}(phi(x)) w by forward-mode differentiation of the decoder."""
    with torch.no_grad():
        latent = model.encode(x)
    w = model.weight.detach()
    tangent = w.expand_as(latent.z).contiguous()
    _, derivative = torch.func.jvp(lambda z: model.decode(latent.with_z(z)), (latent.z,), (tangent,))
    return derivative.detach()


def integrate(model, x: Tensor, method: str, settings: ComparisonSettings) -> tuple[Tensor, dict[str, Any]]:
    """Euler-integrate ``method``'s attribution for ``settings.steps`` steps of first-order logit gain delta."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    delta = settings.logit_change / settings.steps
    current = x.detach().clone()
    stalled = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for step in range(settings.steps):
        grad = _gradient(model, current)
        if method == "gradient":
            direction = grad
        elif method == "smoothgrad":
            direction = _smoothgrad(model, current, settings, step)
        else:
            direction = _directional_derivative(model, current)
        gain = (grad * direction).flatten(1).sum(1)
        # A direction that does not raise the logit to first order cannot be scaled to do so.
        bad = ~(gain > 1e-12)
        stalled |= bad
        gamma = torch.where(bad, torch.zeros_like(gain), delta / gain.clamp_min(1e-12))
        current = current + gamma.view(-1, 1, 1, 1) * direction
    return current, {"stalled": int(stalled.sum())}


def _reference_components(model, reference: Tensor, components: int) -> tuple[Tensor, Tensor]:
    from explainers.core.methods.isofactual import principal_directions

    with torch.no_grad():
        z = torch.cat([model.encode(reference[s:s + 128]).z for s in range(0, reference.shape[0], 128)])
        _, vh, std = principal_directions(model.weight, z)
    k = min(components, int((std > 1e-9).sum()))
    return vh[:k], std[:k]


def compare(model, images: Tensor, *, reference: Tensor, settings: ComparisonSettings | None = None,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every method on ``images`` (N×3×H×W in [0, 1]); per-sample arrays and a summary per method."""
    settings = settings or ComparisonSettings()
    model.eval()
    components, std = _reference_components(model, reference, settings.components)
    w = model.weight.detach()
    w_unit = w / w.norm()
    with torch.no_grad():
        z0 = model.encode(images).z
        logit0 = model.logit_from_z(z0)
    results: dict[str, Any] = {"settings": settings.__dict__, "n": int(images.shape[0]),
                               "components": int(components.shape[0]), "methods": {}}
    finals = {}
    for method in METHODS:
        if progress:
            progress(method)
        final, info = integrate(model, images, method, settings)
        finals[method] = final
        with torch.no_grad():
            z1 = model.encode(final).z
            logit1 = model.logit_from_z(z1)
        dz = z1 - z0
        along = dz @ w_unit
        orthogonal = (dz - along[:, None] * w_unit[None, :]).norm(dim=1)
        dxi = (dz @ components.T) / std[None, :]
        per_sample = {
            "logit_change": (logit1 - logit0).tolist(),
            "z_change_along_w": along.tolist(),
            "z_change_orthogonal": orthogonal.tolist(),
            "orthogonal_to_parallel": (orthogonal / along.abs().clamp_min(1e-12)).tolist(),
            "xi_change_std": dxi.norm(dim=1).tolist(),
            "input_change_l2": (final - images).flatten(1).norm(dim=1).tolist(),
        }
        summary = {key: {"mean": float(np.mean(v)), "median": float(np.median(v)), "sd": float(np.std(v))}
                   for key, v in per_sample.items()}
        results["methods"][method] = {"summary": summary, "per_sample": per_sample, **info}
    results["_finals"] = finals
    return results


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table: one row per method, means (medians for the ratio) over the samples."""
    header = (f"{'method':<24}{'logit change':>14}{'|dz| orth/along':>17}{'|d xi| (sd)':>13}{'|dx| L2':>10}"
              f"{'stalled':>9}")
    lines = [f"n = {results['n']} samples, {results['settings']['steps']} Euler steps, target logit change "
             f"{results['settings']['logit_change']}, xi = {results['components']} principal components of z⊥w",
             header, "-" * len(header)]
    for method, data in results["methods"].items():
        s = data["summary"]
        lines.append(f"{method:<24}{s['logit_change']['mean']:>14.3f}{s['orthogonal_to_parallel']['median']:>17.3f}"
                     f"{s['xi_change_std']['mean']:>13.3f}{s['input_change_l2']['mean']:>10.3f}{data['stalled']:>9d}")
    return "\n".join(lines)


def write_outputs(results: dict[str, Any], images: Tensor, out: Path) -> dict[str, str]:
    """results.json, table.txt and figure.png (matplotlib Agg) under ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    finals = results.pop("_finals")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    table = format_table(results)
    (out / "table.txt").write_text(table + "\n")

    methods = list(results["methods"])
    fig = plt.figure(figsize=(12, 7))
    grid = fig.add_gridspec(2, 2 * len(methods) + 1, height_ratios=[1.2, 1])
    ax = fig.add_subplot(grid[0, : len(methods)])
    ax.boxplot([results["methods"][m]["per_sample"]["xi_change_std"] for m in methods], showfliers=False)
    ax.set_xticks(range(1, len(methods) + 1), [m.replace("_", "\n") for m in methods])
    ax.set_ylabel("|Δξ| (standard deviations)")
    ax.set_title("change of unrelated factors ξ = E z")
    ax = fig.add_subplot(grid[0, len(methods) + 1:])
    ax.boxplot([results["methods"][m]["per_sample"]["logit_change"] for m in methods], showfliers=False)
    ax.set_xticks(range(1, len(methods) + 1), [m.replace("_", "\n") for m in methods])
    ax.set_ylabel("logit change")
    ax.set_title("logit change")
    original = images[0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    ax = fig.add_subplot(grid[1, 0])
    ax.imshow(original)
    ax.set_title("image", fontsize=9)
    ax.axis("off")
    for j, method in enumerate(methods):
        final = finals[method][0].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        difference = np.clip(0.5 + 10 * (final - original), 0, 1)
        change = results["methods"][method]["per_sample"]["logit_change"][0]
        for k, (picture, title) in enumerate(((final, f"{method}\nΔlogit {change:+.2f}"), (difference, "10 × Δ"))):
            ax = fig.add_subplot(grid[1, 1 + 2 * j + k])
            ax.imshow(picture)
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle("Integrated attributions (Sixt et al., section 3.2)")
    fig.savefig(out / "figure.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return {"json": str(out / "results.json"), "table": str(out / "table.txt"), "figure": str(out / "figure.png")}

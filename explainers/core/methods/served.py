"""The 8-bit image that is served for a decoded counterfactual, chosen so that its own logit is the target.

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 2): x~ = phi^-1(z + alpha w)
"will correspond exactly to the logit offset alpha w^T w". That holds for the float image; participants see an
8-bit one, and a flow's logit can be very sensitive to changes below one 8-bit level (on the shipped 64 px
Two4Two model, redrawing every pixel of an original within its 8-bit bin moves the logit with a standard
deviation of about 0.37). Rounding every pixel to its nearest level then misses the column target by about a
third of the spacing between the seed grid's columns.

Each decoded value v lies between two 8-bit levels, and serving either of them changes the image by less than
one level. :func:`serve_at_target` starts from the nearest level everywhere and then, per image, serves the
other neighbour for the pixels whose first-order effect on the logit (the logit's gradient at the served
image, times the one-level step) best makes up the remaining error, re-measuring the logit of the served
image after every step (a Newton-like iteration on a discrete set). The image with the smallest measured
error is kept, so the result is never worse than plain rounding; its logit is measured on exactly the
tensor that the PNG encodes (explainers.core.pixels), so the stored logit is the served image's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from explainers.core import pixels

#: Steps of the rounding search and the error (in logits) at which an image counts as on target.
DEFAULT_STEPS = 3
DEFAULT_TOLERANCE = 0.01


@dataclass
class Served:
    """8-bit images (as the model's input: bin centres, N×C×H×W), their measured logits, how many pixel values
    of each are served at the farther of their two neighbouring levels, and the passes spent."""

    images: Tensor
    logits: Tensor
    flips: Tensor
    forward: int
    backward: int


def neighbour_levels(decoded: Tensor) -> tuple[Tensor, Tensor]:
    """(nearest 8-bit level, the other neighbouring level) of every value, as float levels 0..255.

    The nearest level is exactly what pixels.to_uint8 serves; where the other neighbour falls outside 0..255
    (values clamped at black or white) it equals the nearest, so that value has no choice.
    """
    v = decoded.detach() * pixels.LEVELS - 0.5
    nearest = v.round().clamp(0, pixels.LEVELS - 1)
    other = torch.where(v >= nearest, nearest + 1, nearest - 1).clamp(0, pixels.LEVELS - 1)
    return nearest, other


def _as_input(levels: Tensor) -> Tensor:
    """Float levels -> the model's input tensor, exactly as pixels.to_tensor encodes the uint8 image."""
    return (levels + 0.5) / pixels.LEVELS


def _logits(model, levels: Tensor, batch_size: int, *, gradients: bool) -> tuple[Tensor, Tensor | None]:
    """Logits of the served images (and the gradient of each image's logit with respect to its pixels)."""
    logits, grads = [], []
    for start in range(0, levels.shape[0], batch_size):
        x = _as_input(levels[start:start + batch_size])
        if gradients:
            with torch.enable_grad():
                x = x.requires_grad_(True)
                logit = model.logit(x)
                (grad,) = torch.autograd.grad(logit.sum(), x)
            grads.append(grad)
            logits.append(logit.detach())
        else:
            with torch.no_grad():
                logits.append(model.logit(x))
    return torch.cat(logits), (torch.cat(grads) if gradients else None)


def _flip_towards(levels: Tensor, nearest: Tensor, other: Tensor, grad: Tensor, error: Tensor,
                  candidates: int = 1024, enough: float = 0.0) -> Tensor:
    """Levels with the pixel choices toggled whose predicted logit changes add up to at most ``error`` (per row).

    The predicted change of toggling a value is grad · (its other choice − its current level) / 256. Of the
    ``candidates`` toggles that move the logit the right way most, largest first, each is taken while it still
    fits into the remaining error (the greedy rule for a subset sum), so large steps close most of the gap
    and small ones the rest without overshooting; the search stops once every row's predicted remainder is
    at most ``enough``.
    """
    n = levels.shape[0]
    flat_levels, flat_nearest, flat_other = levels.reshape(n, -1), nearest.reshape(n, -1), other.reshape(n, -1)
    alternative = torch.where(flat_levels == flat_nearest, flat_other, flat_nearest)
    gain = grad.reshape(n, -1).to(levels.dtype) * (alternative - flat_levels) / pixels.LEVELS
    useful = torch.where(gain * torch.sign(error)[:, None] > 0, gain.abs(), torch.zeros_like(gain))
    ordered, order = useful.topk(min(candidates, useful.shape[1]), dim=1)
    remaining = error.abs().to(ordered.dtype)
    take = torch.zeros_like(ordered, dtype=torch.bool)
    for j in range(ordered.shape[1]):
        if j % 32 == 0 and not bool((remaining > enough).any()):  # checked now and then: each check syncs a GPU
            break
        fits = (ordered[:, j] > 0) & (ordered[:, j] <= remaining)
        take[:, j] = fits
        remaining = remaining - torch.where(fits, ordered[:, j], torch.zeros_like(remaining))
    toggle = torch.zeros_like(useful, dtype=torch.bool).scatter(1, order, take)
    return torch.where(toggle, alternative, flat_levels).reshape(levels.shape)


def serve_at_target(model, decoded: Tensor, targets: Tensor, *, steps: int = DEFAULT_STEPS,
                    tolerance: float = DEFAULT_TOLERANCE, batch_size: int = 64) -> Served:
    """The 8-bit images, each within one level of ``decoded`` (N×C×H×W in [0, 1]), whose logits are closest
    to ``targets`` (N) among those the search visits: plain rounding first, then up to ``steps`` gradient steps
    for the images still more than ``tolerance`` off. Each visited image costs one forward pass; each step
    one backward pass per image."""
    nearest, other = neighbour_levels(decoded)
    targets = targets.to(device=decoded.device, dtype=torch.float64)
    levels = nearest.clone()
    best_levels = nearest.clone()
    best_logits = torch.zeros(decoded.shape[0], dtype=torch.float64, device=decoded.device)
    best_error = torch.full_like(best_logits, float("inf"))
    active = torch.arange(decoded.shape[0], device=decoded.device)
    forward = backward = 0
    for step in range(steps + 1):
        if active.numel() == 0:
            break
        gradients = step < steps
        logits, grad = _logits(model, levels[active], batch_size, gradients=gradients)
        forward += int(active.numel())
        backward += int(active.numel()) if gradients else 0
        error = targets[active] - logits.double()
        better = error.abs() < best_error[active]
        chosen = active[better]
        best_levels[chosen], best_logits[chosen], best_error[chosen] = \
            levels[chosen], logits.double()[better], error.abs()[better]
        open_ = error.abs() > tolerance
        if not gradients or not bool(open_.any()):
            break
        rows = active[open_]
        levels[rows] = _flip_towards(levels[rows], nearest[rows], other[rows], grad[open_], error[open_],
                                     enough=tolerance / 4)
        active = rows
    flips = (best_levels != nearest).flatten(1).sum(1)
    return Served(_as_input(best_levels).to(decoded.dtype), best_logits, flips, forward, backward)

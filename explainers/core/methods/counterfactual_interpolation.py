"""Counterfactual interpolation with the invertible classifier: x~ = phi^-1(z + alpha w).

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 2, "Counterfactuals"):
moving z along the classifier weight w changes the logit by exactly alpha w^T w and, for any property
v^T z with v orthogonal to w, nothing else: an ideal counterfactual. Decoding reuses the variables split
off by the lower levels. "Set the logit to v" uses alpha = (v - logit(x)) / ||w||^2 (the reference code's
``set_weight_bias_to``); the study grids use it with one target logit per column.

What participants see is the 8-bit image. ``explain(..., served=True)`` returns exactly those images with
their own logits (:func:`served_counterfactuals`): each decoded image is rounded to 8 bits so that its logit
stays at the target (explainers.core.methods.served), and where that cannot close the gap the latent target is
corrected by a fixed-point step (aim += target - served logit) and the cell decoded again, keeping the
candidate whose served logit is closest to the target.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._base import Explanation, as_images, decode_batched, float_tuple, logits_batched
from .registry import MethodError, register_method
from .served import DEFAULT_STEPS, DEFAULT_TOLERANCE, serve_at_target

#: Fixed-point corrections of the latent target for served cells the rounding leaves off target.
DEFAULT_CORRECTIONS = 2


def logit_alpha(model, z: Tensor, targets: Tensor) -> Tensor:
    """alpha = (v - logit(z)) / ||w||^2: the step along w that sets the logit of z exactly to v."""
    w = model.weight
    return (targets - model.logit_from_z(z)) / (w @ w)


def set_logit(model, z: Tensor, targets: Tensor) -> Tensor:
    """z' = z + alpha w with alpha from :func:`logit_alpha`: the unique closest point whose logit is exactly v."""
    return z + logit_alpha(model, z, targets)[:, None] * model.weight[None, :]


def edit_columns(model, z: Tensor, values: Tensor, *, set_targets: bool) -> tuple[Tensor, Tensor]:
    """(z + alpha w, alpha) per row: alpha is ``values`` itself, or the step that sets the logit to ``values``."""
    alphas = logit_alpha(model, z, values) if set_targets else values
    return z + alphas[:, None] * model.weight[None, :], alphas


@dataclass
class ServedCounterfactuals:
    """8-bit counterfactuals (bin centres, N×C×H×W), their measured logits, the logit of the latent each was
    decoded from, the pixel values served at the farther neighbouring level, and the passes spent."""

    images: Tensor
    logits: Tensor
    latent_logits: Tensor
    flips: Tensor
    evaluations: dict[str, int]


def served_counterfactuals(model, latent, targets: Tensor, *, corrections: int = DEFAULT_CORRECTIONS,
                           steps: int = DEFAULT_STEPS, tolerance: float = DEFAULT_TOLERANCE
                           ) -> ServedCounterfactuals:
    """phi^-1(z + alpha w) with the logit set to ``targets`` (one per latent), served as 8-bit images whose own
    logits are closest to the targets.

    First the latent is set exactly to the target, decoded and rounded towards the target
    (:func:`~explainers.core.methods.served.serve_at_target`). A cell still more than ``tolerance`` off is
    decoded again from a corrected latent target, aim <- aim + (target - served logit), up to ``corrections``
    times; of all candidates the one whose served logit is closest to the target is kept.
    """
    targets = targets.to(latent.z.dtype)
    aim = targets.clone()
    latent_logits = aim.clone()
    decoded = decode_batched(model, latent.with_z(set_logit(model, latent.z, aim)))
    served = serve_at_target(model, decoded, targets, steps=steps, tolerance=tolerance)
    images, logits, flips = served.images, served.logits, served.flips
    evaluations = {"forward": served.forward, "inverse": int(targets.shape[0]), "backward": served.backward}
    target64 = targets.double()
    for _ in range(corrections):
        off = (logits - target64).abs() > tolerance
        if not bool(off.any()):
            break
        aim[off] = aim[off] + (target64[off] - logits[off]).to(aim.dtype)
        part = latent.select(off)
        again_decoded = decode_batched(model, part.with_z(set_logit(model, part.z, aim[off])))
        again = serve_at_target(model, again_decoded, targets[off], steps=steps, tolerance=tolerance)
        evaluations["inverse"] += int(off.sum())
        evaluations["forward"] += again.forward
        evaluations["backward"] += again.backward
        better = (again.logits - target64[off]).abs() < (logits[off] - target64[off]).abs()
        rows = off.nonzero().flatten()[better]
        images[rows], logits[rows], flips[rows] = again.images[better], again.logits[better], again.flips[better]
        latent_logits[rows] = aim[rows]
    return ServedCounterfactuals(images, logits, latent_logits, flips, evaluations)


def alphas_or_targets(alphas, target_logits) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Validate a column specification: exactly one of a list of alphas or a list of target logits."""
    alphas = float_tuple(alphas, "alphas", allow_empty=True)
    targets = float_tuple(target_logits, "target_logits", allow_empty=True)
    if bool(alphas) == bool(targets):
        raise ValueError("give exactly one of alphas or target_logits (a non-empty list of numbers)")
    return alphas, targets


def check_weight(model, method: str) -> None:
    """A zero or non-finite w cannot move the logit: refuse such a checkpoint before decoding anything."""
    w = model.weight.detach()
    if not torch.isfinite(w).all() or float(w.pow(2).sum()) == 0.0:
        raise MethodError(f"{method}: the classifier weight vector is zero or not finite; the checkpoint cannot "
                          f"explain")


@register_method("counterfactual_interpolation", requires=("invertible",))
class CounterfactualInterpolation:
    """One row per input image, one column per alpha (or per target logit)."""

    @dataclass(frozen=True)
    class Config:
        alphas: tuple[float, ...] = ()
        target_logits: tuple[float, ...] = ()

        def __post_init__(self) -> None:
            alphas, targets = alphas_or_targets(self.alphas, self.target_logits)
            object.__setattr__(self, "alphas", alphas)
            object.__setattr__(self, "target_logits", targets)

    def __init__(self, config: "CounterfactualInterpolation.Config"):
        self.config = config

    @torch.no_grad()
    def explain(self, model, images, *, shifts: Tensor | None = None, keep: Tensor | None = None,
                reencode: bool = True, served: bool = False, tolerance: float = DEFAULT_TOLERANCE) -> Explanation:
        """Counterfactuals of every image at every column.

        ``shifts`` (N×D, orthogonal to w) first move each image's features, e.g. along an isofactual direction;
        ``keep`` (N×K booleans) decodes only the marked cells (the others stay black and cost no inverse pass);
        ``reencode`` scores the decoded float images (the default), False gives the logits of the edited
        features instead; ``served`` returns the 8-bit images participants are shown (as bin centres, see
        explainers.core.pixels) with the logits measured on exactly them (:func:`served_counterfactuals`,
        searching until a cell is within ``tolerance`` of its target logit).
        ``extra["network_evaluations"]`` counts the forward, inverse and backward passes per image.
        """
        check_weight(model, self.name)
        x = as_images(model, images, self.name)
        latent = model.encode(x)
        n = x.shape[0]
        evaluations = {"forward": n, "inverse": 0, "backward": 0}
        original_logits = model.logit_from_z(latent.z)
        if shifts is not None:
            latent = latent.with_z(latent.z + torch.as_tensor(shifts, dtype=x.dtype, device=x.device))
        if self.config.target_logits:
            values = self.config.target_logits
            columns = [{"target_logit": v} for v in values]
        else:
            values = self.config.alphas
            columns = [{"alpha": a} for a in values]
        k = len(values)
        rows_latent = latent.repeat_each(k)
        column_values = torch.tensor(values, dtype=x.dtype, device=x.device).repeat(n)
        z, alphas = edit_columns(model, rows_latent.z, column_values, set_targets=bool(self.config.target_logits))
        logits_in_z = model.logit_from_z(z)
        mask = torch.ones(n * k, dtype=torch.bool, device=x.device) if keep is None else \
            torch.as_tensor(keep, dtype=torch.bool, device=x.device).reshape(-1)
        decoded = torch.zeros((n * k, *x.shape[1:]), dtype=x.dtype, device=x.device)
        extra = {}
        if served:
            logits = torch.full((n * k,), float("nan"), dtype=torch.float64, device=x.device)
            flips = torch.zeros(n * k, dtype=torch.long, device=x.device)
            if bool(mask.any()):
                cells = served_counterfactuals(model, rows_latent.select(mask), logits_in_z[mask],
                                               tolerance=tolerance)
                decoded[mask], logits[mask], flips[mask] = cells.images, cells.logits, cells.flips
                # the latent a served cell came from may carry a corrected target: its own alpha and logit
                alphas = alphas.clone()
                alphas[mask] += (cells.latent_logits - logits_in_z[mask]) / (model.weight @ model.weight)
                logits_in_z = logits_in_z.clone()
                logits_in_z[mask] = cells.latent_logits
                evaluations = {key: evaluations[key] + cells.evaluations[key] for key in evaluations}
            extra["flips"] = flips.view(n, k)
        else:
            if bool(mask.any()):
                decoded[mask] = decode_batched(model, rows_latent.with_z(z).select(mask))
                evaluations["inverse"] += int(mask.sum())
            if reencode:
                logits = logits_batched(model, decoded)
                evaluations["forward"] += n * k
            else:
                logits = logits_in_z
        return Explanation(
            images=decoded.view(n, k, *x.shape[1:]),
            logits=logits.view(n, k),
            rows=[{"source_index": i, "original_logit": float(original_logits[i])} for i in range(n)],
            columns=columns,
            source_index=torch.arange(n).repeat_interleave(k).view(n, k),
            extra={"target_logits_in_z": logits_in_z.view(n, k), "alphas": alphas.view(n, k),
                   "network_evaluations": evaluations, **extra},
        )

"""Counterfactual interpolation with the invertible classifier: x~ = phi^-1(z + alpha w).

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 2, "Counterfactuals"):
moving z along the classifier weight w changes the logit by exactly alpha w^T w and, for any property
v^T z with v orthogonal to w, nothing else: an ideal counterfactual. Decoding reuses the variables split
off by the lower levels. "Set the logit to v" uses alpha = (v - logit(x)) / ||w||^2 (the reference code's
``set_weight_bias_to``); the study grids use it with one target logit per column.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._base import Explanation, as_images, decode_batched, float_tuple, logits_batched
from .registry import MethodError, register_method


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
                reencode: bool = True) -> Explanation:
        """Counterfactuals of every image at every column.

        ``shifts`` (N×D, orthogonal to w) first move each image's features, e.g. along an isofactual direction;
        ``keep`` (N×K booleans) decodes only the marked cells (the others stay black and cost no inverse pass);
        ``reencode`` scores the decoded images (the default) - callers that score what they finally show pass
        False and get the logits of the edited features instead.
        """
        check_weight(model, self.name)
        x = as_images(model, images, self.name)
        latent = model.encode(x)
        n = x.shape[0]
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
        edited = rows_latent.with_z(z)
        if keep is None:
            decoded = decode_batched(model, edited)
        else:
            mask = torch.as_tensor(keep, dtype=torch.bool, device=x.device).reshape(-1)
            decoded = torch.zeros((n * k, *x.shape[1:]), dtype=x.dtype, device=x.device)
            if bool(mask.any()):
                decoded[mask] = decode_batched(model, edited.select(mask))
        logits_in_z = model.logit_from_z(z)
        logits = logits_batched(model, decoded) if reencode else logits_in_z
        return Explanation(
            images=decoded.view(n, k, *x.shape[1:]),
            logits=logits.view(n, k),
            rows=[{"source_index": i, "original_logit": float(original_logits[i])} for i in range(n)],
            columns=columns,
            source_index=torch.arange(n).repeat_interleave(k).view(n, k),
            extra={"target_logits_in_z": logits_in_z.view(n, k), "alphas": alphas.view(n, k)},
        )

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

from ._base import Explanation, as_images, decode_batched, float_tuple, logits_batched, set_logit
from .registry import register_method


@register_method("counterfactual_interpolation")
class CounterfactualInterpolation:
    """One row per input image, one column per alpha (or per target logit)."""

    @dataclass(frozen=True)
    class Config:
        alphas: tuple[float, ...] = ()
        target_logits: tuple[float, ...] = ()

        def __post_init__(self) -> None:
            alphas = float_tuple(self.alphas, "alphas", allow_empty=True)
            targets = float_tuple(self.target_logits, "target_logits", allow_empty=True)
            if bool(alphas) == bool(targets):
                raise ValueError("give exactly one of alphas or target_logits (a non-empty list of numbers)")
            object.__setattr__(self, "alphas", alphas)
            object.__setattr__(self, "target_logits", targets)

    def __init__(self, config: "CounterfactualInterpolation.Config"):
        self.config = config

    @torch.no_grad()
    def explain(self, model, images) -> Explanation:
        x = as_images(model, images, self.name)
        latent = model.encode(x)
        n = x.shape[0]
        if self.config.target_logits:
            values = self.config.target_logits
            columns = [{"target_logit": v} for v in values]
        else:
            values = self.config.alphas
            columns = [{"alpha": a} for a in values]
        k = len(values)
        rows_latent = latent.repeat_each(k)
        column_values = torch.tensor(values, dtype=x.dtype, device=x.device).repeat(n)
        if self.config.target_logits:
            z = set_logit(model, rows_latent.z, column_values)
        else:
            z = rows_latent.z + column_values[:, None] * model.weight[None, :]
        decoded = decode_batched(model, rows_latent.with_z(z))
        logits = logits_batched(model, decoded)
        original_logits = model.logit_from_z(latent.z)
        return Explanation(
            images=decoded.view(n, k, *x.shape[1:]),
            logits=logits.view(n, k),
            rows=[{"source_index": i, "original_logit": float(original_logits[i])} for i in range(n)],
            columns=columns,
            source_index=torch.arange(n).repeat_interleave(k).view(n, k),
            extra={"target_logits_in_z": model.logit_from_z(z).view(n, k)},
        )

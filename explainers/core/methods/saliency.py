"""The seed's saliency map: |dh| cos(dh, h) on an intermediate feature map, resized to the input.

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 2, "Saliency maps"): the
saliency of a counterfactual highlights where it differs from the original in an intermediate feature map
h; per location m_ij = |dh_ij| cos(angle(dh_ij, h_ij)) = dh_ij . h_ij / |h_ij|, positive where the change
aligns with the feature. Both h and h~ are read on the decoding path (phi^-1 of z and of z + alpha w),
so m is exactly zero at alpha = 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ._base import Explanation, as_images, logits_batched
from .counterfactual_interpolation import alphas_or_targets, edit_columns
from .registry import MethodError, register_method


def saliency_map(h: torch.Tensor, h_changed: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """m = dh . h / |h| per location (B×C×H×W -> B×H×W)."""
    delta = h_changed - h
    return (delta * h).sum(1) / h.norm(dim=1).clamp_min(eps)


@register_method("saliency", requires=("invertible",))
class Saliency:
    """One row per input image, one column per alpha (or target logit); ``maps`` holds the saliency."""

    @dataclass(frozen=True)
    class Config:
        alphas: tuple[float, ...] = ()
        target_logits: tuple[float, ...] = ()
        level: int = 1

        def __post_init__(self) -> None:
            alphas, targets = alphas_or_targets(self.alphas, self.target_logits)
            if isinstance(self.level, bool) or not isinstance(self.level, int) or self.level < 0:
                raise ValueError(f"level must be a non-negative integer, got {self.level!r}")
            object.__setattr__(self, "alphas", alphas)
            object.__setattr__(self, "target_logits", targets)

    def __init__(self, config: "Saliency.Config"):
        self.config = config

    @torch.no_grad()
    def explain(self, model, images) -> Explanation:
        config = self.config
        if config.level >= len(model.levels):
            raise MethodError(f"{self.name}: level {config.level} does not exist; this model has "
                              f"levels 0..{len(model.levels) - 1}")
        x = as_images(model, images, self.name)
        n = x.shape[0]
        latent = model.encode(x)
        _, h = model.decode_features(latent, config.level)
        values = config.target_logits or config.alphas
        k = len(values)
        rows_latent = latent.repeat_each(k)
        column_values = torch.tensor(values, dtype=x.dtype, device=x.device).repeat(n)
        z, _ = edit_columns(model, rows_latent.z, column_values, set_targets=bool(config.target_logits))
        decoded, h_changed = model.decode_features(rows_latent.with_z(z), config.level)
        maps = saliency_map(h.repeat_interleave(k, dim=0), h_changed)
        maps = F.interpolate(maps[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        logits = logits_batched(model, decoded)
        key = "target_logit" if config.target_logits else "alpha"
        return Explanation(
            images=decoded.view(n, k, *x.shape[1:]), logits=logits.view(n, k),
            rows=[{"source_index": i} for i in range(n)], columns=[{key: v} for v in values],
            maps=maps.view(n, k, *x.shape[-2:]), source_index=torch.arange(n).repeat_interleave(k).view(n, k),
        )

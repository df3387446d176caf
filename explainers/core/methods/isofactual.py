"""Isofactuals: principal components of the classifier features orthogonal to w (PCA isosurface).

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 2, "PCA Isosurface"):
remove the variation along w, z_perp = z - (w^T z / w^T w) w, and run PCA on z_perp. The components
e_1..e_{m-1} are orthogonal to w and sorted by explained variance; every point alpha w + sum beta_i e_i
has the same prediction, so the rows here (moving along one component at a fixed logit) are isosurfaces:
their logit stays constant while whatever the component encodes changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ._base import Explanation, as_images, decode_batched, float_tuple, logits_batched, positive_int
from .counterfactual_interpolation import set_logit
from .registry import MethodError, register_method


def principal_directions(weight: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PCA of z_perp = z - (w.z / w.w) w: (mean, directions C×D by explained variance, standard deviations).

    The directions are orthogonal to w (the last numerical traces of w are removed), so moving along them
    cannot move the logit.
    """
    w = weight.to(device=z.device, dtype=z.dtype)  # the reference features may sit on the CPU
    z_perp = z - ((z @ w) / (w @ w))[:, None] * w[None, :]
    mean = z_perp.mean(0)
    _, singular, vh = torch.linalg.svd(z_perp - mean, full_matrices=False)
    vh = vh - ((vh @ w) / (w @ w))[:, None] * w[None, :]
    std = singular / max(1, z.shape[0] - 1) ** 0.5
    return mean, vh, std


@register_method("isofactual", requires=("invertible",))
class Isofactual:
    """Rows: (principal component, target logit); columns: offsets along the component in standard deviations.

    ``explain(model, images)`` fits the PCA on the given reference images; the split-off lower-level
    variables of reference image ``anchor_index`` are reused for decoding.
    """

    @dataclass(frozen=True)
    class Config:
        n_components: int = 4
        betas: tuple[float, ...] = (-2.0, -1.0, 0.0, 1.0, 2.0)
        target_logits: tuple[float, ...] = (0.0,)
        anchor_index: int = 0

        def __post_init__(self) -> None:
            positive_int(self.n_components, "n_components", maximum=256)
            object.__setattr__(self, "betas", float_tuple(self.betas, "betas"))
            object.__setattr__(self, "target_logits", float_tuple(self.target_logits, "target_logits"))
            if isinstance(self.anchor_index, bool) or not isinstance(self.anchor_index, int) or self.anchor_index < 0:
                raise ValueError(f"anchor_index must be a non-negative integer, got {self.anchor_index!r}")

    def __init__(self, config: "Isofactual.Config"):
        self.config = config

    @staticmethod
    def components(model, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean of z_perp, components C×D sorted by explained variance, their standard deviations)."""
        return principal_directions(model.weight, z)

    @torch.no_grad()
    def row_shifts(self, model, z: torch.Tensor, rows: int) -> tuple[torch.Tensor, list[dict[str, float]]]:
        """Isofactual offsets for ``rows`` rows of a counterfactual grid, from the reference features ``z``.

        Row r moves along principal direction r mod C (C = ``n_components``, at most D) by
        beta * its standard deviation, with beta the (r div C)-th entry of ``betas``, cycling; moving along a
        direction orthogonal to w leaves the logit unchanged, so each grid column stays an isosurface.
        """
        _, directions, std = self.components(model, z)
        count = min(self.config.n_components, directions.shape[0])
        betas = self.config.betas
        shifts = torch.zeros((rows, directions.shape[1]), dtype=z.dtype, device=z.device)
        info = []
        for r in range(rows):
            k = r % count
            beta = betas[(r // count) % len(betas)]
            shifts[r] = beta * std[k] * directions[k]
            info.append({"component": k, "beta": beta, "component_std": float(std[k])})
        return shifts, info

    @torch.no_grad()
    def explain(self, model, images) -> Explanation:
        config = self.config
        x = as_images(model, images, self.name)
        if x.shape[0] <= config.n_components:
            raise MethodError(
                f"{self.name}: {config.n_components} components need more than {config.n_components} reference "
                f"images, got {x.shape[0]}"
            )
        if config.anchor_index >= x.shape[0]:
            raise MethodError(f"{self.name}: anchor_index {config.anchor_index} is out of range ({x.shape[0]} images)")
        latent = model.encode(x)
        mean, components, std = self.components(model, latent.z)
        betas = torch.tensor(config.betas, dtype=x.dtype, device=x.device)
        rows, points, targets = [], [], []
        for component in range(config.n_components):
            for target in config.target_logits:
                rows.append({"component": component, "target_logit": target,
                             "explained_std": float(std[component])})
                points.append(mean[None, :] + (betas * std[component])[:, None] * components[component][None, :])
                targets.extend([target] * len(config.betas))
        z = torch.cat(points)
        z = set_logit(model, z, torch.tensor(targets, dtype=x.dtype, device=x.device))
        anchor = latent.select(slice(config.anchor_index, config.anchor_index + 1)).repeat_each(z.shape[0])
        decoded = decode_batched(model, anchor.with_z(z))
        logits = logits_batched(model, decoded)
        n, k = len(rows), len(config.betas)
        explained = (std ** 2) / (std ** 2).sum()
        return Explanation(
            images=decoded.view(n, k, *x.shape[1:]), logits=logits.view(n, k), rows=rows,
            columns=[{"beta": b} for b in config.betas],
            source_index=torch.full((n, k), -1, dtype=torch.long),
            extra={"explained_variance_ratio": explained[: config.n_components].tolist(),
                   "components": components[: config.n_components]},
        )

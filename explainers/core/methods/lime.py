"""LIME: a sparse linear surrogate of the classifier fitted on random maskings of image patches.

Ribeiro, Singh & Guestrin, "Why Should I Trust You?" (KDD 2016): the image is divided into interpretable
components (here square patches; superpixel segmentation would need scikit-image), ``n_samples`` random
subsets are kept and the rest replaced by ``baseline``, the model scores each, and a weighted Lasso (weights
from an exponential kernel on the cosine distance to the full image) gives one coefficient per patch. One of
the two baselines of the CEM-MAF user study (seeds/cem-maf-contrastive-explanations.txt, section 5). Computed
with Captum's Lime; it needs only the model's outputs, no gradients, so it explains any classifier.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ._base import Explanation, int_between
from .gradients import _as_input, _explanation, _positive_float, _targets, logit_function
from .registry import register_method


def patch_mask(height: int, width: int, patch: int) -> Tensor:
    """1×1×H×W integer ids of the ``patch`` × ``patch`` squares tiling the image (row-major)."""
    rows = torch.arange(height) // patch
    columns = torch.arange(width) // patch
    per_row = (width + patch - 1) // patch
    return (rows[:, None] * per_row + columns[None, :])[None, None]


@register_method("lime")
class Lime:
    """One row per image; ``maps`` the surrogate's coefficient of the patch each pixel belongs to."""

    @dataclass(frozen=True)
    class Config:
        patch_size: int = 4
        n_samples: int = 200
        baseline: float = 0.0
        alpha: float = 0.01
        kernel_width: float = 0.75
        seed: int = 0

        def __post_init__(self) -> None:
            int_between(self.patch_size, "patch_size", 1, 256)
            int_between(self.n_samples, "n_samples", 10, 10_000)
            int_between(self.seed, "seed", 0, 2 ** 31 - 1)
            if isinstance(self.baseline, bool) or not isinstance(self.baseline, (int, float)) \
                    or not 0.0 <= self.baseline <= 1.0:
                raise ValueError(f"baseline must be a number in [0, 1], got {self.baseline!r}")
            object.__setattr__(self, "alpha", _positive_float(self.alpha, "alpha"))
            object.__setattr__(self, "kernel_width", _positive_float(self.kernel_width, "kernel_width"))

    def __init__(self, config: "Lime.Config"):
        self.config = config

    def attribute(self, model, images, target=None) -> tuple[Tensor, Tensor, Tensor]:
        from captum._utils.models.linear_model import SkLearnLasso
        from captum.attr import Lime as CaptumLime
        from captum.attr._core.lime import get_exp_kernel_similarity_function

        config = self.config
        forward = logit_function(model)
        x = _as_input(model, images, self.name)
        t = _targets(forward, x, target, self.name)
        mask = patch_mask(x.shape[-2], x.shape[-1], config.patch_size).to(x.device)
        lime = CaptumLime(forward, interpretable_model=SkLearnLasso(alpha=config.alpha),
                          similarity_func=get_exp_kernel_similarity_function("cosine", config.kernel_width))
        maps = []
        for i in range(x.shape[0]):
            torch.manual_seed(config.seed + i)  # Captum draws the maskings from torch's global generator
            maps.append(lime.attribute(x[i:i + 1], baselines=config.baseline, target=int(t[i]),
                                       feature_mask=mask.expand(1, x.shape[1], -1, -1), n_samples=config.n_samples,
                                       perturbations_per_eval=min(64, config.n_samples)).detach())
        # Every channel of a patch carries the same coefficient: keep one channel as the map.
        return x, torch.cat(maps)[:, :1], t

    def explain(self, model, images, target=None) -> Explanation:
        x, attributions, t = self.attribute(model, images, target)
        with torch.no_grad():
            logits = logit_function(model)(x)
        return _explanation(x, attributions, t, logits, {})

"""CEM-MAF pertinent positives: a few superpixels of the image that by themselves keep the classifier's decision.

Luss et al. (seeds/cem-maf-contrastive-explanations.txt, section 3.2, problem (2); section 4 and supplement
section 1): the image is cut into superpixels S_1..S_m (SLIC, scikit-image; the paper uses 200 on 224 px
images), a mask M ∈ [0, 1]^m keeps superpixel k with weight M_k, and the masked image
δ(M) = Σ_k M_k S_k ⊙ x0 + (1 − Σ_k M_k S_k) ⊙ background. Minimise

    c · max(0, max_{i≠t0} f_i(δ) − f_{t0}(δ) + κ)  +  γ · Σ_i max(0, g_i(δ) − g_i(x0))  +  β · ||M||₁

by ISTA (relaxed mask; a gradient step on the smooth terms, then the proximal step of β||M||₁ on [0, 1]:
soft-thresholding by step·β and clipping to 1, which sets small weights to exactly 0), with FISTA momentum
(Beck & Teboulle, the paper's [2]) and c by bisection as for pertinent negatives. Of the iterates whose masked
image keeps the class, the one with the smallest ||M||₁ is kept; its superpixels are ranked by weight and
added greedily (binary, on the 8-bit image as served) until the image predicts t0 again. The attribute
functions g_i are oriented towards t0 (see explainers.core.methods._attributes): a PP may not show more of
the class's own concepts than the original. The background is a flat grey (0.5, the zero of the paper's
[−0.5, 0.5] images) unless configured, so every pixel of a PP is the original's or the background.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._attributes import DEFAULT_TWO4TWO_ATTRIBUTES, AttributeFunctions, attribute_names
from ._base import Explanation, int_between
from .cem_maf_pn import margin_to, non_negative_float, positive_float, resolve_attributes, served
from .gradients import _as_input, logit_function
from .registry import MethodError, register_method


def superpixels(image: np.ndarray, segments: int, compactness: float) -> np.ndarray:
    """SLIC labels 0..S-1 (contiguous) of one image H×W×C float in [0, 1] (C = 1 is segmented as grey)."""
    from skimage.segmentation import slic

    channels = image.shape[-1]
    labels = slic(image[..., 0] if channels == 1 else image, n_segments=segments, compactness=compactness,
                  start_label=0, channel_axis=None if channels == 1 else -1)
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)


def background_value(background: float) -> float:
    """The background snapped to the centre of its 8-bit bin, so a served PP pixel is x0's or exactly this."""
    return (min(255, round(background * 256 - 0.5)) + 0.5) / 256


def masked(x0: Tensor, onehot: Tensor, mask: Tensor, background: float) -> Tensor:
    """δ(M): x0 where the (relaxed) mask keeps a superpixel, the background elsewhere. onehot N×S×H×W."""
    keep = torch.einsum("ns,nshw->nhw", mask, onehot)[:, None]
    return keep * x0 + (1 - keep) * background


@dataclass(frozen=True)
class PertinentPositives:
    """PP images N×C×H×W, superpixel labels N×H×W, binary masks and ISTA's relaxed masks (N×S, -1 pads)."""

    images: Tensor
    segments: Tensor
    binary: Tensor
    relaxed: Tensor
    counts: list[int]
    predicted: Tensor


@register_method("cem_maf_pp", requires=("gradients",))
class CEMMAFPertinentPositive:
    """One column: the pertinent positive of each image (original pixels on the kept superpixels)."""

    output = "images"

    @dataclass(frozen=True)
    class Config:
        segments: int = 50
        compactness: float = 10.0
        background: float = 0.5
        attributes: tuple[str, ...] = DEFAULT_TWO4TWO_ATTRIBUTES
        kappa: float = 1.0
        gamma: float = 100.0
        beta: float = 0.1
        c_init: float = 1.0
        search_steps: int = 3
        steps: int = 100
        learning_rate: float = 0.5

        def __post_init__(self) -> None:
            int_between(self.segments, "segments", 2, 2000)
            object.__setattr__(self, "compactness", positive_float(self.compactness, "compactness"))
            if non_negative_float(self.background, "background") > 1:
                raise ValueError(f"background must be a pixel value in [0, 1], got {self.background!r}")
            object.__setattr__(self, "attributes", attribute_names(self.attributes))
            for name in ("kappa", "gamma", "beta"):
                object.__setattr__(self, name, non_negative_float(getattr(self, name), name))
            for name in ("c_init", "learning_rate"):
                object.__setattr__(self, name, positive_float(getattr(self, name), name))
            int_between(self.search_steps, "search_steps", 1, 20)
            int_between(self.steps, "steps", 1, 10_000)

    def __init__(self, config: "CEMMAFPertinentPositive.Config"):
        self.config = config

    def explain(self, model, images, auxiliaries: dict[str, Any] | None = None,
                attributes: AttributeFunctions | None = None) -> Explanation:
        """``attributes`` the g_i (default Two4Two's shipped read-out; unused when gamma is 0)."""
        forward = logit_function(model)
        x0 = _as_input(model, images, self.name)
        found = self.pertinent_positives(forward, x0, attributes)
        n = len(x0)
        with torch.no_grad():
            logits = forward(found.images)
        pixels_kept = found.binary.float().mean((1, 2))
        return Explanation(
            images=found.images[:, None], logits=logits.gather(1, found.predicted[:, None]),
            rows=[{"source_index": i, "predicted_class": int(found.predicted[i])} for i in range(n)],
            columns=[{"label": "Pertinent positive"}], source_index=torch.arange(n)[:, None],
            extra={"pp_superpixels_kept": found.counts,
                   "pp_superpixels": [int(s.max()) + 1 for s in found.segments],
                   "pp_pixel_share": [float(v) for v in pixels_kept],
                   "pp_relaxed_mask": [[float(v) for v in row if v >= 0] for row in found.relaxed],
                   "network_evaluations": self.config.search_steps * self.config.steps * n
                   + sum(int(s.max()) + 1 for s in found.segments)},
        )

    def pertinent_positives(self, forward, x0: Tensor, attributes: AttributeFunctions | None) -> PertinentPositives:
        cfg = self.config
        with torch.no_grad():
            t0 = forward(x0).argmax(1)
        attrs = None
        if cfg.gamma > 0:
            attrs = resolve_attributes(attributes, cfg.attributes, x0, forward(x0[:1]).shape[1], self.name)
        images_np = x0.detach().cpu().permute(0, 2, 3, 1).double().numpy()
        labels = [torch.from_numpy(superpixels(image, cfg.segments, cfg.compactness)) for image in images_np]
        s = max(int(label.max()) + 1 for label in labels)
        onehot = torch.stack([torch.nn.functional.one_hot(label, s).permute(2, 0, 1) for label in labels])
        onehot = onehot.to(x0.dtype).to(x0.device)
        exists = onehot.flatten(2).sum(2) > 0  # N×S: images with fewer superpixels pad with empty ones
        relaxed = self._ista(forward, attrs, x0, onehot, exists, t0)
        binary, counts, images = self._complete(forward, x0, onehot, exists, relaxed, t0)
        segments = torch.stack(labels)
        return PertinentPositives(images, segments, binary, torch.where(exists, relaxed, -torch.ones_like(relaxed)),
                                  counts, t0)

    def _ista(self, forward, attrs, x0, onehot, exists, t0) -> Tensor:
        """The sparsest relaxed mask (smallest L1) whose masked image keeps the class, per row, over the c search."""
        cfg = self.config
        n, s = exists.shape
        g0 = attrs.values(x0, t0).detach() if attrs is not None else None
        best = exists.to(x0.dtype).clone()
        best_l1 = torch.full((n,), float("inf"), dtype=x0.dtype, device=x0.device)
        c = torch.full((n,), cfg.c_init, dtype=x0.dtype, device=x0.device)
        lower, upper = torch.zeros_like(c), torch.full_like(c, 1e10)
        threshold = cfg.learning_rate * cfg.beta
        for _ in range(cfg.search_steps):
            mask = exists.to(x0.dtype).clone()
            previous = mask.clone()
            found = torch.zeros(n, dtype=torch.bool, device=x0.device)
            for step in range(cfg.steps):
                momentum = step / (step + 3)
                y = (mask + momentum * (mask - previous)).clamp(0, 1).requires_grad_(True)
                image = masked(x0, onehot, y, background_value(cfg.background))
                logits = forward(image)
                loss = c * torch.relu(cfg.kappa - margin_to(logits, t0))
                if attrs is not None:
                    loss = loss + cfg.gamma * torch.relu(attrs.values(image, t0) - g0).sum(1)
                gradient, = torch.autograd.grad(loss.sum(), y)
                with torch.no_grad():
                    previous = mask
                    stepped = y - cfg.learning_rate * gradient
                    # the proximal map of threshold·||M||₁ restricted to [0, 1]: exact zeros below the threshold
                    mask = torch.where(stepped > threshold, (stepped - threshold).clamp(max=1), torch.zeros_like(y))
                    mask = mask * exists
                    kept = margin_to(forward(masked(x0, onehot, mask, background_value(cfg.background))), t0) >= 0
                    l1 = mask.sum(1)
                    better = kept & (l1 < best_l1)
                    best[better] = mask[better]
                    best_l1[better] = l1[better]
                    found |= kept
            upper = torch.where(found, torch.minimum(upper, c), upper)
            lower = torch.where(found, lower, torch.maximum(lower, c))
            c = torch.where(upper < 1e9, (lower + upper) / 2, c * 10)
        return best

    def _complete(self, forward, x0, onehot, exists, relaxed, t0) -> tuple[Tensor, list[int], Tensor]:
        """Greedy completion: add superpixels by descending weight until the served image predicts t0."""
        cfg = self.config
        binaries, counts, images = [], [], []
        with torch.no_grad():
            for i in range(len(x0)):
                available = torch.nonzero(exists[i]).flatten()
                order = available[torch.argsort(-relaxed[i, available], stable=True)]
                prefixes = torch.zeros(len(order), exists.shape[1], dtype=x0.dtype, device=x0.device)
                for size in range(len(order)):
                    prefixes[size, order[:size + 1]] = 1
                candidates = served(masked(x0[i:i + 1].expand(len(order), -1, -1, -1),
                                           onehot[i:i + 1].expand(len(order), -1, -1, -1), prefixes,
                                           background_value(cfg.background)))
                keeps = torch.nonzero(forward(candidates).argmax(1) == t0[i]).flatten()
                if len(keeps) == 0:
                    raise MethodError(f"{self.name}: image {i} does not keep its class even with every superpixel "
                                      f"(the 8-bit image changes the prediction); no pertinent positive exists")
                chosen = int(keeps[0])
                counts.append(chosen + 1)
                binaries.append(torch.einsum("s,shw->hw", prefixes[chosen], onehot[i]) > 0.5)
                images.append(candidates[chosen])
        return torch.stack(binaries), counts, torch.stack(images)

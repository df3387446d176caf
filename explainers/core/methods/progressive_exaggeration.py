"""Progressive exaggeration: a row of images whose classifier posterior walks across the probability range.

Singla et al., "Explanation by progressive exaggeration" (seeds/progressive-exaggeration.txt, section 2,
eq. 2): x_delta = I_f(x, delta) = G(E(x), c_f(x, delta)), where c_f(x, delta) is the bin of f(x) + delta.
The explainer (explainers.core.nets.exaggeration, trained per classifier by
explainers.core.training.exaggeration_loop) arrives as the auxiliary model ``explainer``; the explained
classifier f only scores. Columns are either ``steps`` requested posteriors spread evenly over [0, 1] (the
paper's rows: bins [0, 0.1) ... [0.9, 1]) or explicit ``deltas`` added to each image's f(x).

Each cell's logit is the classifier's logit of the explainer's target class on the 8-bit image as served;
``extra`` records per row the requested and the achieved posterior of every column.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from explainers.core import pixels
from explainers.core.nets.exaggeration import ExaggerationNet
from explainers.core.nets.glow import NetConfigError

from ._base import Explanation, float_tuple, images_to_tensor, int_between
from .gradients import logit_function
from .registry import MethodError, register_method

#: The most columns a row may have.
MAX_COLUMNS = 32


def requested_posteriors(probability: Tensor, *, steps: int = 0, deltas: tuple[float, ...] = ()) -> Tensor:
    """N x K requested posteriors: f(x) + delta_k clipped to [0, 1], or ``steps`` values (k + 0.5) / steps."""
    if deltas:
        shifts = torch.tensor(deltas, dtype=probability.dtype, device=probability.device)
        return (probability[:, None] + shifts[None, :]).clamp(0.0, 1.0)
    values = (torch.arange(steps, dtype=probability.dtype, device=probability.device) + 0.5) / steps
    return values[None, :].expand(probability.shape[0], steps)


@torch.no_grad()
def exaggerate(explainer: ExaggerationNet, x: Tensor, requested: Tensor) -> tuple[Tensor, Tensor]:
    """(images N x K x C x H x W, bins N x K): G(E(x), bin of each requested posterior); E runs once per image."""
    explainer.check_images(x)
    z = explainer.encode(x)
    bins = (requested.clamp(0.0, 1.0) * explainer.config.num_bins).floor().long().clamp(
        0, explainer.config.num_bins - 1)
    images = torch.stack([explainer.decode(z, bins[:, k]) for k in range(requested.shape[1])], dim=1)
    return images, bins


@torch.no_grad()
def served_scores(forward, images: Tensor, target_class: int) -> tuple[Tensor, Tensor]:
    """(logit of ``target_class``, its posterior) of N x K images after 8-bit quantisation, as participants see them."""
    n, k = images.shape[:2]
    flat = images.reshape(n * k, *images.shape[2:])
    served = pixels.to_tensor(pixels.to_uint8(flat.float().cpu()), flat.dtype).to(flat.device)
    logits = forward(served)
    return logits[:, target_class].view(n, k), torch.softmax(logits, dim=1)[:, target_class].view(n, k)


@register_method("progressive_exaggeration", auxiliary=("explainer",))
class ProgressiveExaggeration:
    """One row per image: its exaggerations at ``steps`` posteriors across [0, 1] or at f(x) + each delta."""

    output = "images"

    @dataclass(frozen=True)
    class Config:
        explainer_model: int | None = None
        steps: int = 7
        deltas: tuple[float, ...] = ()

        def __post_init__(self) -> None:
            key = self.explainer_model
            if key is not None and (isinstance(key, bool) or not isinstance(key, int) or key < 1):
                raise ValueError(f"explainer_model must be the id of a registered explainer, got {key!r}")
            deltas = float_tuple(self.deltas, "deltas", allow_empty=True, limit=MAX_COLUMNS)
            outside = [d for d in deltas if not -1.0 <= d <= 1.0]
            if outside:
                raise ValueError(f"every delta must lie in [-1, 1] (a change of the posterior), got {outside}")
            object.__setattr__(self, "deltas", deltas)
            int_between(self.steps, "steps", 2, MAX_COLUMNS)

    def __init__(self, config: "ProgressiveExaggeration.Config"):
        self.config = config

    @torch.no_grad()
    def explain(self, model, images, *, auxiliaries: dict | None = None) -> Explanation:
        explainer = (auxiliaries or {}).get("explainer")
        if not isinstance(explainer, ExaggerationNet):
            raise MethodError(f"{self.name}: needs the auxiliary model 'explainer' (a progressive-exaggeration "
                              f"explainer trained for this classifier), got {type(explainer).__name__}")
        forward = logit_function(model)
        parameter = next(explainer.parameters())
        x = images_to_tensor(images, self.name, dtype=parameter.dtype, device=parameter.device)
        explainer.eval()
        try:
            explainer.check_images(x)
            explainer.check_classifier(forward)
        except NetConfigError as exc:
            raise MethodError(f"{self.name}: {exc}") from exc
        target = explainer.config.target_class
        probability = explainer.posterior(forward, x)
        requested = requested_posteriors(probability, steps=self.config.steps, deltas=self.config.deltas)
        generated, bins = exaggerate(explainer, x, requested)
        logits, achieved = served_scores(forward, generated, target)
        n, k = requested.shape
        if self.config.deltas:
            columns = [{"label": f"f(x) {d:+.2f}", "delta": d} for d in self.config.deltas]
        else:
            columns = [{"label": f"f = {float(q):.2f}", "requested": round(float(q), 4)} for q in requested[0]]
        return Explanation(
            images=generated, logits=logits,
            rows=[{"source_index": i, "probability": float(probability[i])} for i in range(n)],
            columns=columns,
            source_index=torch.arange(n).repeat_interleave(k).view(n, k),
            extra={"requested": requested.cpu(), "achieved": achieved.cpu(), "bins": bins.cpu(),
                   "source_probability": probability.cpu(),
                   # per image: E once, G once per column, f on the image and on each column
                   "network_evaluations": int(n * (1 + k) + n * (1 + k))},
        )

"""Gradient-based attribution baselines through Captum: saliency, SmoothGrad, integrated gradients.

The seeds compare invertible-network explanations against these (seeds/invertibility-ideal-counterfactuals-
user-study.txt, section 3.2 and Figure 3; seeds/ecinn-efficient-counterfactuals-inn.txt, section 4.4):
saliency = d logit / dx (Simonyan et al.), SmoothGrad = the gradient averaged over noisy copies
(Smilkov et al., 2017; stdevs 0.15 for [0, 1] images - Captum's default of 1.0 is far too large,
reference notes "Libraries"), integrated gradients = (x - x') times the average gradient on the straight
path from a baseline x' (Sundararajan et al., 2017), which satisfies completeness:
sum of attributions = f(x) - f(x').

Works on any torch classifier: models with ``class_logits(x)`` (IB-INN), binary models with ``logit(x)``
(the seed's Glow; column 1 is the logit and column 0 its negation, the evidence for class 0), or any
callable returning B×K logits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from ._base import Explanation, images_to_tensor, int_between
from .registry import MethodError, register_method


def logit_function(model) -> Callable[[Tensor], Tensor]:
    """x (B×C×H×W) -> logits B×K for any supported classifier (see module doc)."""
    if hasattr(model, "class_logits"):
        return model.class_logits
    if hasattr(model, "logit") and callable(model.logit):
        def binary(x: Tensor) -> Tensor:
            logit = model.logit(x)
            return torch.stack([-logit, logit], dim=1)
        return binary
    if callable(model):
        def plain(x: Tensor) -> Tensor:
            out = model(x)
            if not isinstance(out, Tensor) or out.dim() != 2:
                raise MethodError("the model must return B×K logits (or offer class_logits / logit)")
            return out
        return plain
    raise MethodError(f"cannot compute logits of a {type(model).__name__}")


def _as_input(model, images, method: str) -> Tensor:
    """Images for any classifier: in its parameters' dtype and device (float32 on CPU if it has none)."""
    try:
        parameter = next(model.parameters())
        dtype, device = parameter.dtype, parameter.device
    except (AttributeError, StopIteration):
        dtype, device = torch.float32, torch.device("cpu")
    return images_to_tensor(images, method, dtype=dtype, device=device).detach()


def _targets(forward, x: Tensor, target: Any, method: str) -> Tensor:
    with torch.no_grad():
        logits = forward(x)
    if target is None:
        return logits.argmax(1)
    t = torch.as_tensor(target, device=x.device).long().reshape(-1).expand(x.shape[0])
    if bool(((t < 0) | (t >= logits.shape[1])).any()):
        raise MethodError(f"{method}: unknown target class in {sorted(set(t.tolist()))}; the model has "
                          f"classes 0..{logits.shape[1] - 1}")
    return t.clone()


def _explanation(x: Tensor, attributions: Tensor, targets: Tensor, logits: Tensor, extra: dict) -> Explanation:
    n = x.shape[0]
    return Explanation(
        images=x[:, None], logits=logits.gather(1, targets[:, None]),
        rows=[{"source_index": i, "target_class": int(targets[i])} for i in range(n)],
        columns=[{"attribution": "input"}], maps=attributions.sum(1)[:, None],
        source_index=torch.arange(n)[:, None], extra={"attributions": attributions, "targets": targets, **extra},
    )


def _positive_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


@register_method("saliency_gradient", requires=("gradients",))
class SaliencyGradient:
    """|d l_t / dx| (or the signed gradient): one row per image, ``maps`` the channel sum."""

    @dataclass(frozen=True)
    class Config:
        absolute: bool = True

        def __post_init__(self) -> None:
            if not isinstance(self.absolute, bool):
                raise ValueError(f"absolute must be true or false, got {self.absolute!r}")

    def __init__(self, config: "SaliencyGradient.Config"):
        self.config = config

    def attribute(self, model, images, target=None) -> tuple[Tensor, Tensor, Tensor]:
        from captum.attr import Saliency

        forward = logit_function(model)
        x = _as_input(model, images, self.name)
        t = _targets(forward, x, target, self.name)
        return x, Saliency(forward).attribute(x, target=t, abs=self.config.absolute).detach(), t

    def explain(self, model, images, target=None) -> Explanation:
        x, attributions, t = self.attribute(model, images, target)
        with torch.no_grad():
            logits = logit_function(model)(x)
        return _explanation(x, attributions, t, logits, {})


@register_method("smoothgrad", requires=("gradients",))
class SmoothGrad:
    """The gradient averaged over ``samples`` copies with Gaussian noise (std ``stdevs``, images in [0, 1])."""

    @dataclass(frozen=True)
    class Config:
        stdevs: float = 0.15
        samples: int = 25
        absolute: bool = False
        seed: int = 0

        def __post_init__(self) -> None:
            object.__setattr__(self, "stdevs", _positive_float(self.stdevs, "stdevs"))
            int_between(self.samples, "samples", 1, 1000)
            int_between(self.seed, "seed", 0, 2 ** 31 - 1)
            if not isinstance(self.absolute, bool):
                raise ValueError(f"absolute must be true or false, got {self.absolute!r}")

    def __init__(self, config: "SmoothGrad.Config"):
        self.config = config

    def attribute(self, model, images, target=None) -> tuple[Tensor, Tensor, Tensor]:
        from captum.attr import NoiseTunnel, Saliency

        forward = logit_function(model)
        x = _as_input(model, images, self.name)
        t = _targets(forward, x, target, self.name)
        torch.manual_seed(self.config.seed)  # Captum draws the noise from torch's global generator
        tunnel = NoiseTunnel(Saliency(forward))
        attributions = tunnel.attribute(x, nt_type="smoothgrad", nt_samples=self.config.samples,
                                        nt_samples_batch_size=self.config.samples, stdevs=self.config.stdevs,
                                        target=t, abs=self.config.absolute)
        return x, attributions.detach(), t

    def explain(self, model, images, target=None) -> Explanation:
        x, attributions, t = self.attribute(model, images, target)
        with torch.no_grad():
            logits = logit_function(model)(x)
        return _explanation(x, attributions, t, logits, {})


@register_method("integrated_gradients", requires=("gradients",))
class IntegratedGradients:
    """(x - x') times the mean gradient from a constant baseline image x' = ``baseline``; reports the
    completeness gap sum(attributions) - (f(x) - f(x')) per image in ``extra["convergence_delta"]``."""

    @dataclass(frozen=True)
    class Config:
        n_steps: int = 50
        baseline: float = 0.0
        method: str = "gausslegendre"

        def __post_init__(self) -> None:
            int_between(self.n_steps, "n_steps", 2, 2000)
            if isinstance(self.baseline, bool) or not isinstance(self.baseline, (int, float)) \
                    or not 0.0 <= self.baseline <= 1.0:
                raise ValueError(f"baseline must be a number in [0, 1], got {self.baseline!r}")
            allowed = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right")
            if self.method not in allowed:
                raise ValueError(f"method must be one of {', '.join(allowed)}, got {self.method!r}")

    def __init__(self, config: "IntegratedGradients.Config"):
        self.config = config

    def attribute(self, model, images, target=None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        from captum.attr import IntegratedGradients as CaptumIG

        forward = logit_function(model)
        x = _as_input(model, images, self.name)
        t = _targets(forward, x, target, self.name)
        baseline = torch.full_like(x, float(self.config.baseline))
        attributions, delta = CaptumIG(forward).attribute(
            x, baselines=baseline, target=t, n_steps=self.config.n_steps, method=self.config.method,
            return_convergence_delta=True)
        return x, attributions.detach(), t, delta.detach()

    def explain(self, model, images, target=None) -> Explanation:
        x, attributions, t, delta = self.attribute(model, images, target)
        with torch.no_grad():
            logits = logit_function(model)(x)
        return _explanation(x, attributions, t, logits, {"convergence_delta": delta})

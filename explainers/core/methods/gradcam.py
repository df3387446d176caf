"""Grad-CAM: the class activation map of a convolutional layer, weighted by the pooled gradients.

Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization" (ICCV
2017): with A^k the k-th feature map of a layer and y^c the logit of class c, the weights are
alpha_k^c = mean_ij d y^c / d A^k_ij and the map is ReLU(sum_k alpha_k^c A^k), upsampled to the input. It is
one of the two baselines of the CEM-MAF user study (seeds/cem-maf-contrastive-explanations.txt, section 5).
Computed with Captum's LayerGradCam; the layer is named in the config or, by default, the last layer (in
execution order) that has weights and outputs a spatial map - the usual "last convolutional layer" (pooling
after it would make the map coarser, and the weights of a non-global pooling head can cancel out).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._base import Explanation
from .gradients import _as_input, _explanation, _targets, logit_function
from .registry import MethodError, register_method


def named_layer(model: nn.Module, name: str) -> nn.Module:
    """Sub-module ``name`` of ``model`` (models may offer ``find_layer`` to resolve names in their own terms)."""
    finder = getattr(model, "find_layer", None)
    if callable(finder):
        try:
            return finder(name)
        except KeyError as exc:
            raise MethodError(f"grad_cam: {exc.args[0]}") from None
    modules = dict(model.named_modules())
    if name not in modules:
        raise MethodError(f"grad_cam: the model has no layer {name!r}; its layers are: "
                          f"{', '.join(n for n in modules if n) or 'none'}")
    return modules[name]


def last_spatial_layer(model: nn.Module, forward, x: Tensor) -> nn.Module:
    """The leaf module with weights run last whose output is an N×C×H×W map with H×W > 1 (any such leaf
    when none has weights)."""
    order: list[nn.Module] = []
    weighted: list[nn.Module] = []

    def record(module, _inputs, output):
        if isinstance(output, Tensor) and output.dim() == 4 and output.shape[-1] * output.shape[-2] > 1:
            order.append(module)
            if any(True for _ in module.parameters(recurse=False)):
                weighted.append(module)

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    try:
        with torch.no_grad():
            forward(x[:1])
    finally:
        for handle in handles:
            handle.remove()
    if not order:
        raise MethodError("grad_cam: the model has no layer with a spatial output (N×C×H×W); Grad-CAM needs a "
                          "convolutional network")
    return (weighted or order)[-1]


@register_method("grad_cam", requires=("gradients", "layers"))
class GradCam:
    """One row per image; ``maps`` the class activation map upsampled to the image (bilinear)."""

    @dataclass(frozen=True)
    class Config:
        layer: str = ""
        relu: bool = True

        def __post_init__(self) -> None:
            if not isinstance(self.layer, str) or len(self.layer) > 200:
                raise ValueError(f"layer must be the name of a layer (a string), got {self.layer!r}")
            if not isinstance(self.relu, bool):
                raise ValueError(f"relu must be true or false, got {self.relu!r}")

    def __init__(self, config: "GradCam.Config"):
        self.config = config

    def attribute(self, model, images, target=None) -> tuple[Tensor, Tensor, Tensor]:
        from captum.attr import LayerAttribution, LayerGradCam

        forward = logit_function(model)
        x = _as_input(model, images, self.name)
        t = _targets(forward, x, target, self.name)
        layer = named_layer(model, self.config.layer) if self.config.layer else last_spatial_layer(model, forward, x)
        cam = LayerGradCam(forward, layer).attribute(x, target=t, relu_attributions=self.config.relu)
        if cam.dim() != 4:
            raise MethodError(f"grad_cam: the chosen layer's output has shape {tuple(cam.shape)}, not a spatial map")
        cam = LayerAttribution.interpolate(cam.sum(1, keepdim=True), tuple(x.shape[-2:]), interpolate_mode="bilinear")
        return x, cam.detach(), t

    def explain(self, model, images, target=None) -> Explanation:
        x, attributions, t = self.attribute(model, images, target)
        with torch.no_grad():
            logits = logit_function(model)(x)
        return _explanation(x, attributions, t, logits, {})

"""Grad-CAM and LIME on a classifier whose evidence is known, and the methods' declared requirements."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from explainers.core.methods import method_config, method_get
from explainers.core.methods.registry import MethodError, method_check_model


class LeftHalf(nn.Module):
    """Class 1's logit is the mean brightness of the image's left half, seen through a 1×1 convolution."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        nn.init.ones_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, x):
        h = torch.relu(self.conv(x))
        left = h[..., : x.shape[-1] // 2].mean((1, 2, 3))
        return torch.stack([-left, left], dim=1)


class BrightnessOnly(nn.Module):
    """Two feature maps, brightness x and darkness 1 - x; class 1's logit uses only the brightness map."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        with torch.no_grad():
            self.conv.weight[:] = torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
            self.conv.bias[:] = torch.tensor([0.0, 1.0])

    def forward(self, x):
        h = torch.relu(self.conv(x))
        return torch.stack([-h[:, 0].mean((1, 2)), h[:, 0].mean((1, 2))], dim=1)


def _explain(name, parameters, x, model=None):
    return method_get(name)(method_config(name, parameters)).explain(model or LeftHalf(), x, target=1)


def test_grad_cam_weights_the_feature_maps_by_their_pooled_gradients():
    # Selvaraju et al. eq. 1-2 on the convolution's output A: d logit / dA_brightness is 1/64 where the ReLU
    # passes (the bright left half) and 0 elsewhere, so alpha = (32/64 · 1/64, 0) and the map is A_brightness / 128.
    x = torch.zeros(2, 1, 8, 8)
    x[..., :4] = 0.8
    maps = _explain("grad_cam", {"layer": "conv"}, x, BrightnessOnly()).maps[:, 0]
    assert maps.shape == (2, 8, 8)
    torch.testing.assert_close(maps, x[:, 0] / 128)
    automatic = _explain("grad_cam", {}, x, BrightnessOnly()).maps[:, 0]
    torch.testing.assert_close(automatic, maps)
    with pytest.raises(MethodError, match="no layer 'nope'"):
        _explain("grad_cam", {"layer": "nope"}, x, BrightnessOnly())


def test_lime_weights_the_patches_the_model_uses():
    x = torch.full((1, 1, 8, 8), 0.8)
    maps = _explain("lime", {"patch_size": 4, "n_samples": 200, "alpha": 0.0001}, x).maps[0, 0]
    assert float(maps[:, :4].mean()) > 0.05 and float(maps[:, 4:].abs().max()) < 0.2 * float(maps[:, :4].mean())
    again = _explain("lime", {"patch_size": 4, "n_samples": 200, "alpha": 0.0001}, x).maps[0, 0]
    torch.testing.assert_close(again, maps)  # seeded


def test_methods_declare_what_they_need_and_a_mismatch_says_what_is_missing():
    assert method_get("grad_cam").requires == {"gradients", "layers"}
    assert method_get("lime").requires == frozenset() and method_get("example_based").requires == frozenset()
    assert method_get("counterfactual_interpolation").requires == {"invertible"}
    method_check_model("integrated_gradients", {"gradients"})
    with pytest.raises(MethodError, match="invertible network"):
        method_check_model("isofactual", {"gradients", "layers"}, "model 'cnn'")
    with pytest.raises(MethodError, match="forward hooks"):
        method_check_model("grad_cam", {"gradients"})
    with pytest.raises(MethodError, match="invalid configuration"):
        method_config("lime", {"patch_size": 0})

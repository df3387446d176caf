"""Invariants of the Glow classifier (Sixt et al., section 2): exact inversion and exact logit shifts."""
from __future__ import annotations

import pytest
import torch

from explainers.core.methods._base import as_images
from explainers.core.methods.counterfactual_interpolation import set_logit
from explainers.core.nets import GlowClassifier, GlowConfig, NetConfigError
from tests.explainers.tiny_model import TINY_NET, tiny_images, tiny_model


def _x(model, n=8, seed=3):
    return as_images(model, tiny_images(n, seed), "test")


def test_decode_inverts_encode_below_1e_4():
    model = tiny_model()
    x = _x(model)
    assert (model.decode(model.encode(x)) - x).abs().max() < 1e-4


def test_float32_inversion_also_below_1e_4():
    model = tiny_model(torch.float32)
    x = _x(model)
    assert (model.decode(model.encode(x)) - x).abs().max() < 1e-4


def test_logit_is_linear_in_the_classifier_features():
    model = tiny_model()
    x = _x(model)
    latent = model.encode(x)
    assert latent.z.shape == (8, TINY_NET.classifier_dim)
    assert torch.allclose(model.logit(x), latent.z @ model.weight + model.bias)
    assert torch.allclose(model.logit_from_z(latent.z), model(x).logit)


def test_adding_alpha_w_moves_the_logit_by_alpha_w_squared_after_decode_and_reencode():
    model = tiny_model()
    x = _x(model)
    latent = model.encode(x)
    alpha = 2.5
    moved = model.decode(latent.with_z(latent.z + alpha * model.weight))
    expected = model.logit_from_z(latent.z) + alpha * (model.weight @ model.weight)
    assert (model.logit(moved) - expected).abs().max() < 1e-3


def test_setting_the_logit_reaches_the_target_after_decode_and_reencode():
    model = tiny_model()
    x = _x(model)
    latent = model.encode(x)
    targets = torch.linspace(-3, 3, 8, dtype=torch.float64)
    z = set_logit(model, latent.z, targets)
    assert torch.allclose(model.logit_from_z(z), targets, atol=1e-10)
    assert (model.logit(model.decode(latent.with_z(z))) - targets).abs().max() < 1e-3


def test_decode_reuses_the_split_off_variables():
    model = tiny_model()
    x = _x(model)
    latent = model.encode(x)
    swapped = type(latent)(z=latent.z, splits=tuple(s.flip(0) for s in latent.splits))
    # Same classifier features, other image's details: a different image with the same logit.
    decoded = model.decode(swapped)
    assert (decoded - x).abs().max() > 1e-2
    assert torch.allclose(model.logit(decoded), model.logit(x), atol=1e-3)


def test_images_of_the_wrong_size_are_rejected_with_the_expected_size():
    model = tiny_model()
    with pytest.raises(NetConfigError, match="16 px"):
        model.encode(torch.rand(2, 3, 32, 32, dtype=torch.float64))


def test_latent_with_z_of_the_wrong_shape_is_rejected():
    model = tiny_model()
    latent = model.encode(_x(model, 2))
    with pytest.raises(NetConfigError, match="new z must have shape"):
        latent.with_z(latent.z[:, :3])


@pytest.mark.parametrize("kwargs, message", [
    ({"image_size": 20, "levels": 3}, "divisible"),
    ({"levels": 0}, ">= 1"),
    ({"hidden_channels": "64"}, "integer"),
])
def test_invalid_network_configurations_fail_clearly(kwargs, message):
    with pytest.raises(NetConfigError, match=message):
        GlowConfig(**kwargs)


def test_classifier_features_sit_before_the_head_flow():
    config = GlowConfig(image_size=32, levels=3, steps_per_level=1, hidden_channels=8, head_steps=2)
    model = GlowClassifier(config)
    assert config.classifier_shape == (48, 4, 4) and config.classifier_dim == 768
    assert len(model.head) == 2

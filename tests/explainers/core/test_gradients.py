"""Captum gradient baselines: saliency, SmoothGrad, integrated gradients on any classifier."""
from __future__ import annotations

import pytest
import torch

from explainers.core.methods.registry import MethodError, method_config, method_get
from tests.explainers.ibinn_tiny import digits_data, tiny_digits_model


def _method(name, **params):
    return method_get(name)(method_config(name, params))


def test_integrated_gradients_is_complete():
    model = tiny_digits_model()
    images = digits_data()["test_images"][:4]
    explanation = _method("integrated_gradients", n_steps=64).explain(model, images)
    x = explanation.images[:, 0]
    targets = explanation.extra["targets"]
    with torch.no_grad():
        gain = (model.class_logits(x) - model.class_logits(torch.zeros_like(x))).gather(1, targets[:, None])[:, 0]
    total = explanation.extra["attributions"].flatten(1).sum(1)
    scale = gain.abs().max()
    assert torch.allclose(total, gain, atol=0.05 * float(scale))
    assert torch.allclose(explanation.extra["convergence_delta"], total - gain, atol=1e-6)


def test_saliency_is_the_input_gradient_on_a_plain_classifier():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).double()
    x = torch.rand(2, 3, 2, 2, dtype=torch.float64)
    explanation = _method("saliency_gradient", absolute=False).explain(net, x, target=2)
    assert torch.allclose(explanation.extra["attributions"], net[1].weight[2].view(1, 3, 2, 2).expand(2, -1, -1, -1))


def test_smoothgrad_averages_noisy_gradients_and_is_seeded():
    model = tiny_digits_model()
    images = digits_data()["test_images"][:2]
    first = _method("smoothgrad", samples=8).explain(model, images).extra["attributions"]
    again = _method("smoothgrad", samples=8).explain(model, images).extra["attributions"]
    plain = _method("saliency_gradient", absolute=False).explain(model, images).extra["attributions"]
    assert torch.equal(first, again)
    assert not torch.allclose(first, plain)
    assert torch.nn.functional.cosine_similarity(first.flatten(1), plain.flatten(1)).min() > 0


def test_bad_configuration_and_targets_are_refused():
    with pytest.raises(MethodError, match="stdevs"):
        method_config("smoothgrad", {"stdevs": 0})
    with pytest.raises(MethodError, match="baseline"):
        method_config("integrated_gradients", {"baseline": 2})
    with pytest.raises(MethodError, match="unknown target class"):
        _method("saliency_gradient").explain(tiny_digits_model(), digits_data()["test_images"][:1], target=10)

"""ECINN and ECINNh on a tiny trained digits IB-INN: the paper's closed forms and bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.core.methods.ecinn import (
    ECINN,
    convincing_alpha,
    ecinn_counterfactual,
    ecinn_direction,
    tipping_alpha,
)
from explainers.core.methods.registry import MethodError, method_config, method_get
from explainers.core.pixels import to_tensor as images_to_tensor
from tests.explainers.ibinn_tiny import digits_data, tiny_digits_model


@pytest.fixture(scope="module")
def model():
    return tiny_digits_model()


@pytest.fixture(scope="module")
def test_x():
    return images_to_tensor(digits_data()["test_images"], torch.float64)


def _pairs(model, x):
    with torch.no_grad():
        z = model.encode(x).z
        p = model.class_logits_from_z(z).argmax(1)
    q = (p + 1 + torch.arange(len(p)) % 9) % 10  # every other class, cycling
    return z, p, q


def test_tipping_point_is_equidistant_from_both_class_means(model, test_x):
    z, p, q = _pairs(model, test_x[:60])
    delta, w, b = ecinn_direction(model, p, q)
    alpha0 = tipping_alpha(z, delta, w, b)
    point = z + alpha0[:, None] * delta
    to_p = (point - model.mu[p]).norm(dim=1)
    to_q = (point - model.mu[q]).norm(dim=1)
    assert torch.allclose(to_p, to_q, atol=1e-4)
    assert torch.allclose(convincing_alpha(alpha0), 0.8 + alpha0 / 2)
    # ECINN uses the predicted-class mean embeddings, not the Gaussian means, for D.
    assert torch.allclose(delta, model.predicted_class_means[q] - model.predicted_class_means[p])


def test_logit_difference_is_linear_in_alpha(model, test_x):
    z, p, q = _pairs(model, test_x[:20])
    delta, w, b = ecinn_direction(model, p, q)
    alpha0 = tipping_alpha(z, delta, w, b)
    prior = torch.log_softmax(model.phi, 0).detach()
    for alpha in (-0.5, 0.3, 1.7):
        logits = model.class_logits_from_z(z + alpha * delta)
        difference = logits.gather(1, q[:, None])[:, 0] - logits.gather(1, p[:, None])[:, 0]
        expected = (alpha - alpha0) * ((model.mu[q] - model.mu[p]) * delta).sum(1) + prior[q] - prior[p]
        assert torch.allclose(difference, expected, atol=1e-6)


def test_convincing_counterfactual_is_classified_as_target_in_95_percent_of_held_out_digits(model, test_x):
    hits, total = 0, 0
    with torch.no_grad():
        predicted = model.predict(test_x)
    for q in range(10):
        keep = predicted != q
        result = ecinn_counterfactual(model, test_x[keep], q, alpha="alpha1")
        with torch.no_grad():
            hits += int((model.predict(result.counterfactuals) == q).sum())  # re-encoded from the image
        total += int(keep.sum())
    assert hits / total >= 0.95


class CountingModel(torch.nn.Module):
    """Counts how many samples go through the forward (encode) and inverse (decode) passes."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.forward_samples = 0
        self.inverse_samples = 0

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)

    def encode(self, x):
        self.forward_samples += x.shape[0]
        return self.inner.encode(x)

    def decode(self, latent):
        self.inverse_samples += latent.z.shape[0]
        return self.inner.decode(latent)


def test_one_counterfactual_costs_exactly_two_network_evaluations(model, test_x):
    counting = CountingModel(model)
    x = test_x[:7]
    with torch.no_grad():
        target = (model.predict(x) + 3) % 10
    ecinn_counterfactual(counting, x, target, alpha="alpha0")
    assert (counting.forward_samples, counting.inverse_samples) == (7, 7)  # 2 evaluations per counterfactual


def test_method_gives_counterfactuals_for_every_target_and_heatmaps(model):
    images = digits_data()["test_images"][:4]
    explanation = method_get("ecinn")(method_config("ecinn", {})).explain(model, images)
    assert explanation.images.shape == (4, 20, 1, 8, 8)
    predicted = explanation.extra["predicted"]
    for i in range(4):
        for j, column in enumerate(explanation.columns):
            margin = float(explanation.logits[i, j])
            if column["target_class"] == int(predicted[i]):
                assert margin == 0.0
            elif column["alpha"] == "alpha1":
                assert margin > 0  # the target beats the predicted class
    heat = method_get("ecinn_heatmap")(method_config("ecinn_heatmap", {"target_classes": []})).explain(model, images)
    x = heat.extra["inputs"]
    assert heat.maps.shape == (4, 10, 8, 8)
    assert torch.allclose(heat.extra["heatmaps"], heat.images - x[:, None])
    # absolute per-channel changes: a signed sum would cancel hue changes
    assert torch.allclose(heat.maps, heat.extra["heatmaps"].abs().sum(2))
    assert heat.extra["heatmap_scale"] == pytest.approx(float(heat.maps.max()))
    assert float(explanation.images.min()) >= 0 and float(explanation.images.max()) <= 1  # clamped


def test_the_heatmap_of_a_pure_hue_swap_is_not_zero():
    from explainers.core.methods.ecinn_heatmap import change_map

    x = torch.zeros(1, 3, 4, 4)
    x[:, 0] = 0.8  # red ...
    swapped = x[:, [2, 1, 0]]  # ... becomes blue of the same strength: the signed channel sum is 0
    assert float((swapped - x).sum(1).abs().max()) == 0
    assert torch.allclose(change_map(swapped, x), torch.full((1, 4, 4), 1.6))


def test_bad_input_gets_clear_errors(model):
    from explainers.core.nets import GlowClassifier, GlowConfig

    images = digits_data()["test_images"][:3]
    glow = GlowClassifier(GlowConfig(image_size=8, levels=1, steps_per_level=1, hidden_channels=4, head_steps=0))
    with pytest.raises(MethodError, match="class-conditional latents"):
        ECINN(ECINN.Config()).check_model(glow)
    with pytest.raises(MethodError, match="unknown class"):
        method_get("ecinn")(method_config("ecinn", {"target_classes": [3, 12]})).check_model(model)
    with pytest.raises(MethodError, match="non-negative integer"):
        method_config("ecinn", {"target_classes": [-1]})
    with pytest.raises(MethodError, match="alpha must be one of"):
        method_config("ecinn_heatmap", {"alpha": "alpha2"})
    predicted = int(model.predict(images_to_tensor(images, torch.float64))[0])
    with pytest.raises(MethodError, match="equals the predicted class"):
        method_get("ecinn")(method_config("ecinn", {"target_classes": [predicted]})).explain(model, images)
    with pytest.raises(MethodError, match="equals the predicted class"):
        ecinn_counterfactual(model, images_to_tensor(images[:1], torch.float64), predicted)
    fresh = tiny_digits_model()
    fresh.predicted_class_counts.zero_()
    with pytest.raises(MethodError, match="mean training embeddings"):
        ECINN(ECINN.Config()).explain(fresh, images)
    with pytest.raises(MethodError, match="shape"):
        ECINN(ECINN.Config()).explain(model, np.zeros((2, 16, 16), dtype=np.uint8))

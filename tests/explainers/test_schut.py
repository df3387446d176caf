"""Schut et al.: few greedy pixel changes, stopping as soon as the ensemble flips; input-space descent."""
from __future__ import annotations

import pytest
import torch

from explainers.core.methods import MethodError
from tests.explainers.counterfactual_fixtures import Brightness, dark_images, method


def _corner_classifier(scale=20.0):
    """Reads only the four top-left values of channel 0."""
    weights = torch.zeros(3, 8, 8)
    weights[0, :2, :2] = 1.0
    return Brightness(scale=scale, weights=weights)


def test_schut_changes_only_the_pixels_the_ensemble_reads_and_stops_when_it_flips():
    x = dark_images()
    classifier, member = _corner_classifier(), _corner_classifier(scale=15.0)
    explanation = method("schut", ensemble_model=[2], step=0.2).explain(classifier, x, {"ensemble": [member]})
    assert explanation.extra["reached"] == [True] * 3
    changed = explanation.extra["changed_values"]
    assert all(1 <= c <= 4 for c in changed)
    difference = (explanation.images[:, 0] - x).abs()
    assert float(difference[:, 1:].max()) == 0.0 and float(difference[:, 0, 2:].max()) == 0.0
    for d, steps in zip(difference, explanation.extra["iterations"]):  # one value moved by <= step per iteration
        assert float(d.sum()) <= 0.2 * steps + 1e-5
    with torch.no_grad():
        images = explanation.images[:, 0]
        mean = (classifier(images).softmax(1)[:, 1] + member(images).softmax(1)[:, 1]) / 2
    assert bool((mean > 0.99).all())
    shorter = method("schut", ensemble_model=[2], step=0.2, max_iterations=min(explanation.extra["iterations"]) - 1)
    assert not any(shorter.explain(classifier, x, {"ensemble": [member]}).extra["reached"])


def test_input_gradient_descent_reaches_the_target_within_the_pixel_range():
    explanation = method("input_gradient_descent", learning_rate=0.05).explain(Brightness(), dark_images())
    assert explanation.extra["reached"] == [True] * 3 and explanation.extra["valid"] == [True] * 3
    assert float(explanation.images.min()) >= 0 and float(explanation.images.max()) <= 1
    counts = explanation.extra["evaluations_by_network"][0]
    assert counts["classifier forward"] == explanation.extra["iterations"][0] + 1


def test_bad_input_is_refused():
    with pytest.raises(MethodError, match="at least one"):
        method("schut")
    with pytest.raises(MethodError, match="step"):
        method("schut", ensemble_model=[2], step=0)
    with pytest.raises(MethodError, match="ensemble member 1 has 3 classes"):
        method("schut", ensemble_model=[2]).explain(Brightness(), dark_images(), {"ensemble": [Brightness(classes=3)]})
    with pytest.raises(MethodError, match="does not exist"):
        method("input_gradient_descent", target=5).explain(Brightness(), dark_images())

"""Clarity (Algorithm 1): latent search under a latent ensemble, proximity, stopping rule, bad input."""
from __future__ import annotations

import pytest
import torch

from explainers.core.methods import MethodError
from explainers.core.methods.clarity import LatentEnsemble, train_latent_ensemble
from tests.explainers.counterfactual_fixtures import Brightness, GreyGenerator, dark_images, method


def linear_latent_ensemble(members=3, boundary=1.0, slopes=(2.0, 3.0, 4.0)) -> LatentEnsemble:
    """Members whose class-1 logit is slope * (z_0 - boundary): linearly separable at z_0 = boundary."""
    ensemble = LatentEnsemble(members, latent_dim=2, num_classes=2, hidden=2)
    with torch.no_grad():
        for member, slope in zip(ensemble.members, slopes):
            first, second, last = member[0], member[2], member[4]
            for layer in (first, second, last):
                layer.weight.zero_()
                layer.bias.zero_()
            first.weight[0, 0], first.bias[0] = 1.0, 10.0  # z_0 + 10 > 0 keeps the ReLUs linear
            second.weight[0, 0] = 1.0
            last.weight[1, 0], last.bias[1] = slope, -slope * (10.0 + boundary)
            last.weight[0, 0], last.bias[0] = -slope, slope * (10.0 + boundary)
    return ensemble


def _clarity(**params):
    return method("clarity", generator_model=1, **params)


def test_the_iterate_reaches_the_target_under_the_latent_ensemble():
    ensemble = linear_latent_ensemble()
    x = dark_images()
    explanation = _clarity(lam=0.0, learning_rate=0.1).explain(Brightness(), x, {"generator": GreyGenerator()},
                                                               latent_ensemble=ensemble)
    assert explanation.images.shape == (3, 1, 3, 8, 8)
    assert explanation.extra["reached"] == [True] * 3
    z = GreyGenerator().encode(explanation.images[:, 0])[0]
    with torch.no_grad():
        probability = ensemble(z).softmax(-1)[..., 1].mean(0)
    assert bool((probability > 0.99).all()) and bool((z[:, 0] > 1.0).all())
    # the stopping rule: it stopped at the first iterate above gamma, so one step less stays below it
    shorter = _clarity(lam=0.0, learning_rate=0.1, max_iterations=min(explanation.extra["iterations"]) - 1)
    assert not any(shorter.explain(Brightness(), x, {"generator": GreyGenerator()},
                                   latent_ensemble=ensemble).extra["reached"])


def test_a_larger_proximity_weight_keeps_z_closer():
    ensemble = linear_latent_ensemble()
    x = dark_images()
    # the members' mean gradient is at most 3 (1 - p): a weight lam on |z - z0| stalls the search near
    # p = 1 - lam / 3, before the target probability, so a larger weight ends closer to the start
    distances = [_clarity(lam=lam, learning_rate=0.05, max_iterations=150)
                 .explain(Brightness(), x, {"generator": GreyGenerator()}, latent_ensemble=ensemble).extra["latent_l1"]
                 for lam in (0.0, 1.0, 2.0)]
    for row in range(3):
        assert distances[0][row] > distances[1][row] > distances[2][row]


def test_evaluations_are_counted_per_network():
    ensemble = linear_latent_ensemble()
    extra = _clarity(lam=0.0, learning_rate=0.1).explain(Brightness(), dark_images(n=1), {"generator": GreyGenerator()},
                                                         latent_ensemble=ensemble).extra
    counts, steps = extra["evaluations_by_network"][0], extra["iterations"][0]
    assert counts["encoder forward"] == 1 and counts["decoder forward"] == 1
    for i in range(1, 4):  # one forward per check (steps + 1), one backward per step
        assert counts[f"latent classifier {i} forward"] == steps + 1
        assert counts[f"latent classifier {i} backward"] == steps
    assert extra["evaluations"][0] == sum(counts.values())


def test_the_latent_ensemble_learns_a_separable_latent_with_adversarial_training():
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(400, 2, generator=generator)
    labels = (codes[:, 0] > 0).long()
    ensemble, accuracy = train_latent_ensemble(codes, labels, members=3, num_classes=2, hidden=16, steps=150,
                                               epsilon=0.1, seed=0)
    assert accuracy > 0.95 and len(ensemble.members) == 3


def test_the_ensemble_is_trained_from_the_classifier_when_none_is_given():
    x = dark_images(n=2)
    explanation = _clarity(training_steps=150, training_samples=512, learning_rate=0.1).explain(
        Brightness(), x, {"generator": GreyGenerator()})
    assert explanation.extra["latent_ensemble_accuracy"][0] > 0.9
    assert explanation.extra["valid"] == [True, True]


def test_bad_input_is_refused():
    with pytest.raises(MethodError, match="needs a generator"):
        method("clarity")
    with pytest.raises(MethodError, match="needs a generator"):
        _clarity().explain(Brightness(), dark_images(), {})
    with pytest.raises(MethodError, match="16×16 px"):
        _clarity().explain(Brightness(), dark_images(), {"generator": GreyGenerator(size=16)})
    with pytest.raises(MethodError, match="equals the classifier's prediction"):
        _clarity(target=0).explain(Brightness(), dark_images(), {"generator": GreyGenerator()},
                                   latent_ensemble=linear_latent_ensemble())
    with pytest.raises(MethodError, match="explained classifier has 3"):
        _clarity().explain(Brightness(classes=3), dark_images(), {"generator": GreyGenerator()},
                           latent_ensemble=linear_latent_ensemble())
    for params, message in [({"gamma": 0.4}, "gamma"), ({"distance": "l3"}, "distance"), ({"target": -1}, "target"),
                            ({"lam": -1.0}, "lam"), ({"ensemble_size": 0}, "ensemble_size")]:
        with pytest.raises(MethodError, match=message):
            _clarity(**params)

"""REVISE and REVISE-E: search through the decoder; REVISE is REVISE-E with the ensemble {C}."""
from __future__ import annotations

import copy

import pytest
import torch

from explainers.core.methods import MethodError
from tests.explainers.counterfactual_fixtures import Brightness, GreyGenerator, dark_images, method


def test_revise_reaches_the_target_through_the_decoder_and_counts_its_evaluations():
    explanation = method("revise", generator_model=1, learning_rate=0.1).explain(
        Brightness(), dark_images(), {"generator": GreyGenerator()})
    assert explanation.extra["reached"] == [True] * 3 and explanation.extra["valid"] == [True] * 3
    counts, steps = explanation.extra["evaluations_by_network"][0], explanation.extra["iterations"][0]
    assert counts["decoder forward"] == counts["classifier forward"] == steps + 1
    assert counts["decoder backward"] == counts["classifier backward"] == steps
    assert counts["encoder forward"] == 1


def test_revise_e_with_a_copy_of_the_classifier_is_revise():
    classifier = Brightness()
    plain = method("revise", generator_model=1, learning_rate=0.1).explain(
        classifier, dark_images(), {"generator": GreyGenerator()})
    doubled = method("revise_e", generator_model=1, ensemble_model=[2], learning_rate=0.1).explain(
        classifier, dark_images(), {"generator": GreyGenerator(), "ensemble": [copy.deepcopy(classifier)]})
    assert torch.allclose(plain.images, doubled.images)
    assert plain.extra["iterations"] == doubled.extra["iterations"]


def test_revise_e_stops_on_the_ensemble_mean_not_on_the_classifier_alone():
    classifier, sceptic = Brightness(scale=20.0), Brightness(scale=12.0)
    x = dark_images()
    single = method("revise", generator_model=1, learning_rate=0.1).explain(classifier, x, {"generator": GreyGenerator()})
    ensemble = method("revise_e", generator_model=1, ensemble_model=[2], learning_rate=0.1).explain(
        classifier, x, {"generator": GreyGenerator(), "ensemble": [sceptic]})
    # the sceptical member needs a brighter image before the mean probability passes gamma
    assert min(ensemble.extra["iterations"]) > max(single.extra["iterations"])
    with torch.no_grad():
        images = ensemble.images[:, 0]
        mean = (classifier(images).softmax(1)[:, 1] + sceptic(images).softmax(1)[:, 1]) / 2
    assert bool((mean > 0.99).all())


def test_latent_proximity_variant_penalises_the_latent_distance():
    x = dark_images()
    far = method("revise", generator_model=1, proximity="latent", lam=0.0, learning_rate=0.05, max_iterations=60)
    near = method("revise", generator_model=1, proximity="latent", lam=1.0, learning_rate=0.05, max_iterations=60)
    d_far = far.explain(Brightness(), x, {"generator": GreyGenerator()}).extra["latent_l1"]
    d_near = near.explain(Brightness(), x, {"generator": GreyGenerator()}).extra["latent_l1"]
    assert all(a > b for a, b in zip(d_far, d_near))


def test_bad_input_is_refused():
    with pytest.raises(MethodError, match="needs a generator"):
        method("revise")
    with pytest.raises(MethodError, match="at least one"):
        method("revise_e", generator_model=1, ensemble_model=[])
    with pytest.raises(MethodError, match="twice"):
        method("revise_e", generator_model=1, ensemble_model=[3, 3])
    with pytest.raises(MethodError, match="proximity"):
        method("revise", generator_model=1, proximity="pixels")
    with pytest.raises(MethodError, match="8×8 px"):
        method("revise", generator_model=1).explain(Brightness(size=16), dark_images(size=16),
                                                    {"generator": GreyGenerator(size=8)})
    with pytest.raises(MethodError, match="ensemble member 1 has 3 classes"):
        method("revise_e", generator_model=1, ensemble_model=[2]).explain(
            Brightness(), dark_images(), {"generator": GreyGenerator(), "ensemble": [Brightness(classes=3)]})
    with pytest.raises(MethodError, match="needs an ensemble"):
        method("revise_e", generator_model=1, ensemble_model=[2]).explain(
            Brightness(), dark_images(), {"generator": GreyGenerator()})
    with pytest.raises(MethodError, match="equals the classifier's prediction"):
        method("revise", generator_model=1, target=0).explain(Brightness(), dark_images(), {"generator": GreyGenerator()})


def test_revise_fills_a_per_image_stimulus_set():
    from explainers.core import pixels
    from explainers.core.stimuli.explanation_set import build_explanation_set

    images = pixels.to_uint8(dark_images(n=2))
    result, maps = build_explanation_set(
        Brightness(), images, [0, 0], method="revise", parameters={"generator_model": 1, "learning_rate": 0.1},
        class_names=["dark", "bright"], source_indices=[0, 1], auxiliaries={"generator": GreyGenerator()})
    assert maps is None
    generated = [cell for cell in result.cells if cell.column == 1]
    assert len(generated) == 2 and all(cell.parameters["valid"] for cell in generated)

"""CEM-MAF pertinent negatives (Luss et al., section 3.1): the paper's invariants on a hand-built classifier."""
from __future__ import annotations

import pytest
import torch

from explainers.core import pixels
from explainers.core.methods import method_config, method_get
from explainers.core.methods.registry import MethodError
from explainers.core.nets.vae import VAE, VAEConfig

from .cem_maf_fixtures import PixelGenerator, RednessClassifier, bluish_images, colour_attributes

PARAMS = {"generator_model": 1, "steps": 40, "search_steps": 3, "learning_rate": 0.5, "kappa": 0.5,
          "eta": 0.01, "nu": 0.001, "beta": 0.05, "gamma": 100.0}


def _explain(params=None, images=None, **kwargs):
    config = method_config("cem_maf_pn", {**PARAMS, **(params or {})})
    explainer = method_get("cem_maf_pn")(config)
    kwargs.setdefault("auxiliaries", {"generator": PixelGenerator()})
    kwargs.setdefault("attributes", colour_attributes())
    return explainer.explain(RednessClassifier(), bluish_images() if images is None else images, **kwargs)


def test_a_pertinent_negative_flips_the_class_and_never_removes_an_attribute():
    model, attributes = RednessClassifier(), colour_attributes()
    images = bluish_images()
    x0 = pixels.to_tensor(images, torch.float64)
    assert (model(x0).argmax(1) == 0).all()
    explanation = _explain(images=images)
    pn = explanation.images[:, 0]
    assert explanation.images.shape == (3, 1, 3, 16, 16) and method_get("cem_maf_pn").output == "images"
    assert all(explanation.extra["pn_found"])
    shown = pixels.to_tensor(pixels.to_uint8(pn), torch.float64)
    assert (model(shown).argmax(1) == 1).all()  # flipped on the 8-bit image participants see
    towards = torch.ones(3, dtype=torch.long)
    decrease = (attributes.values(x0, towards) - attributes.values(shown, towards)).max(1).values
    assert (decrease <= 0.1 + 1e-9).all()  # the configured tolerance, in read-out units
    assert explanation.extra["attributes_added"] == [["red"]] * 3
    assert explanation.extra["pn_text"][0] == "Adding a redder colour would make it Reddish."
    assert torch.allclose(explanation.logits[:, 0], model(shown)[:, 1])
    assert explanation.extra["network_evaluations"] > 0


def test_the_monotonicity_term_keeps_attributes_a_free_search_would_remove():
    """Without gamma the cheapest flip also lowers green; with it, green stays (the paper's first term)."""
    attributes = colour_attributes()
    x0 = pixels.to_tensor(bluish_images(), torch.float64)
    towards = torch.ones(3, dtype=torch.long)
    changes = {}
    for gamma in (0.0, 100.0):
        explanation = _explain({"gamma": gamma, "tolerance": 10.0 if gamma == 0 else 0.05})
        assert all(explanation.extra["pn_found"])
        shown = pixels.to_tensor(pixels.to_uint8(explanation.images[:, 0]), torch.float64)
        changes[gamma] = attributes.values(shown, towards)[:, 1] - attributes.values(x0, towards)[:, 1]
    assert (changes[0.0] < -0.2).all()  # unconstrained, the PN removes green
    assert (changes[100.0] >= -0.05 - 1e-9).all()


def test_the_best_flipped_iterate_is_kept_and_c_is_searched():
    explanation = _explain({"c_init": 0.1, "search_steps": 3})
    assert all(explanation.extra["pn_found"])  # c grew by bisection (×10 without a PN) until one was found
    assert all(c > 1 for c in explanation.extra["c_final"])
    distances = explanation.extra["latent_distance"]
    assert all(d is not None and d > 0 for d in distances)


def test_no_pertinent_negative_is_reported_not_invented():
    explanation = _explain({"search_steps": 1, "steps": 2, "learning_rate": 0.001, "c_init": 0.001})
    assert explanation.extra["pn_found"] == [False] * 3
    assert explanation.extra["pn_text"][0].startswith("No pertinent negative found")
    assert explanation.extra["latent_distance"] == [None] * 3


def test_bad_input_gets_clear_errors_at_configuration_time():
    with pytest.raises(MethodError, match="needs a generator"):
        method_config("cem_maf_pn", {})
    with pytest.raises(MethodError, match="unknown attribute"):
        method_config("cem_maf_pn", {"generator_model": 1, "attributes": ["moustache"]})
    with pytest.raises(MethodError, match="kappa"):
        method_config("cem_maf_pn", {"generator_model": 1, "kappa": -1})
    with pytest.raises(MethodError, match="needs a generator"):
        _explain(auxiliaries={})
    other_size = VAE(VAEConfig(image_size=32, in_channels=3, latent_dim=4, width=4, levels=2, hidden=8))
    with pytest.raises(MethodError, match="32 px"):
        _explain(auxiliaries={"generator": other_size})
    with pytest.raises(MethodError, match="equals the predicted class"):
        _explain({"target_class": 0})
    with pytest.raises(MethodError, match="not a class"):
        _explain({"target_class": 5})


def test_a_real_vae_of_the_right_size_runs_and_the_shipped_two4two_readout_refuses_unreadable_attributes():
    from explainers.core.methods._attributes import two4two_attributes

    vae = VAE(VAEConfig(image_size=16, in_channels=3, latent_dim=4, width=4, levels=2, hidden=8)).double()
    explanation = _explain({"steps": 3, "search_steps": 1}, auxiliaries={"generator": vae})
    assert explanation.images.shape == (3, 1, 3, 16, 16)
    assert float(explanation.images.min()) >= 0 and float(explanation.images.max()) <= 1
    readout = two4two_attributes(("arm_position", "obj_color"))
    x = pixels.to_tensor(bluish_images(2), torch.float32)  # 16 px images are resized to the read-out's 64 px
    assert readout.values(x, torch.tensor([0, 1])).shape == (2, 2)
    with pytest.raises(MethodError, match="cannot read spherical"):
        two4two_attributes(("spherical",))

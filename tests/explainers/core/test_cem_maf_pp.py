"""CEM-MAF pertinent positives (Luss et al., section 3.2): SLIC superpixels, the ISTA mask, greedy completion."""
from __future__ import annotations

import pytest
import torch

from explainers.core import pixels
from explainers.core.methods import method_config, method_get
from explainers.core.methods.cem_maf_pp import background_value
from explainers.core.methods.registry import MethodError

from .cem_maf_fixtures import RednessClassifier, colour_attributes, half_red_images

PARAMS = {"segments": 24, "steps": 40, "search_steps": 2, "learning_rate": 0.2, "beta": 0.2, "kappa": 0.2}


def _explainer(params=None):
    return method_get("cem_maf_pp")(method_config("cem_maf_pp", {**PARAMS, **(params or {})}))


def test_a_pertinent_positive_keeps_the_class_with_original_or_background_pixels_only():
    model = RednessClassifier()
    images = half_red_images()
    x0 = pixels.to_tensor(images, torch.float64)
    assert (model(x0).argmax(1) == 1).all()
    # on black, masking only removes colour, so the attribute term (no concept may grow) is satisfiable
    explainer = _explainer({"background": 0.0})
    found = explainer.pertinent_positives(model, x0, colour_attributes())
    shown = found.images
    assert (model(shown).argmax(1) == 1).all()  # the class is kept on the served 8-bit image
    background = background_value(0.0)
    keep = found.binary[:, None].expand_as(shown)
    assert torch.equal(shown[keep], x0[keep])  # every kept pixel is the original's ...
    assert torch.all(shown[~keep] == background)  # ... and every other one the background
    for row, segments in zip(found.relaxed, found.segments):
        mask = row[row >= 0]
        assert len(mask) == int(segments.max()) + 1
        assert float(mask.min()) >= 0 and float(mask.max()) <= 1
        assert (mask == 0).any()  # ISTA's soft threshold gives exact zeros
    total = [int(s.max()) + 1 for s in found.segments]
    assert all(1 <= kept < n / 2 for kept, n in zip(found.counts, total))  # sparse: a few superpixels suffice
    # superpixels are whole: a pixel is kept exactly when its superpixel is
    for binary, segments in zip(found.binary, found.segments):
        for label in segments.unique():
            inside = binary[segments == label]
            assert bool(inside.all()) or not bool(inside.any())


def test_the_method_returns_the_pp_image_row_and_its_numbers():
    model = RednessClassifier()
    explanation = _explainer({"gamma": 0.0}).explain(model, half_red_images(2))
    assert explanation.images.shape == (2, 1, 3, 16, 16) and method_get("cem_maf_pp").output == "images"
    assert explanation.columns == [{"label": "Pertinent positive"}]
    assert all(0 < share < 1 for share in explanation.extra["pp_pixel_share"])
    assert len(explanation.extra["pp_relaxed_mask"][0]) == explanation.extra["pp_superpixels"][0]
    assert torch.allclose(explanation.logits[:, 0], model(explanation.images[:, 0])[:, 1])


def test_greedy_completion_adds_superpixels_in_the_order_of_the_mask():
    """With a mask that never shrinks (beta 0) nothing is ranked above anything else; completion still ends at
    the first prefix that keeps the class, so the PP is never larger than needed for its ranking."""
    model = RednessClassifier()
    x0 = pixels.to_tensor(half_red_images(1), torch.float64)
    found = _explainer({"beta": 0.0, "gamma": 0.0}).pertinent_positives(model, x0, None)
    assert (model(found.images).argmax(1) == 1).all()
    assert float(found.relaxed[0][found.relaxed[0] >= 0].min()) > 0  # no shrinkage: no zeros


def test_bad_configuration_is_refused():
    with pytest.raises(MethodError, match="segments"):
        method_config("cem_maf_pp", {"segments": 1})
    with pytest.raises(MethodError, match="background"):
        method_config("cem_maf_pp", {"background": 2})
    with pytest.raises(MethodError, match="unknown attribute"):
        method_config("cem_maf_pp", {"attributes": ["moustache"]})
    grey = torch.rand(2, 1, 16, 16, dtype=torch.float64)
    with pytest.raises(MethodError, match="3-channel"):
        _explainer().pertinent_positives(lambda x: torch.stack([x.mean((1, 2, 3)), -x.mean((1, 2, 3))], 1), grey,
                                         colour_attributes())

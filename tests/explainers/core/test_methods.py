"""Every registered explanation method through the same checks (Sixt et al., section 2 invariants)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.core.methods import MethodError, method_config, method_get, method_list
from explainers.core.methods.binning import bin_edges, symmetric_targets
from explainers.core.methods.saliency import saliency_map
from tests.explainers.tiny_model import tiny_images, tiny_model


def build(name, params):
    return method_get(name)(method_config(name, params))


def test_the_four_core_methods_are_registered():
    assert {"counterfactual_interpolation", "isofactual", "saliency", "example_based"} <= set(method_list())


def test_counterfactuals_reach_their_target_logits_within_1e_3():
    model = tiny_model()
    targets = [-4.0, -1.0, 0.0, 1.0, 4.0]
    explanation = build("counterfactual_interpolation", {"target_logits": targets}).explain(model, tiny_images(6))
    assert explanation.images.shape == (6, 5, 3, 16, 16)
    assert (explanation.logits - torch.tensor(targets, dtype=torch.float64)).abs().max() < 1e-3
    assert explanation.columns == [{"target_logit": t} for t in targets]


def test_alpha_counterfactuals_shift_the_logit_by_alpha_w_squared():
    model = tiny_model()
    images = tiny_images(4)
    explanation = build("counterfactual_interpolation", {"alphas": [-1.0, 0.0, 2.0]}).explain(model, images)
    original = torch.tensor([row["original_logit"] for row in explanation.rows], dtype=torch.float64)
    shift = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64) * (model.weight @ model.weight)
    assert (explanation.logits - (original[:, None] + shift[None, :])).abs().max() < 1e-3
    # alpha = 0 decodes the original itself
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).double() + 0.5) / 256
    assert (explanation.images[:, 1] - x).abs().max() < 1e-4


def test_isofactual_rows_keep_their_logit_constant_within_1e_3():
    model = tiny_model()
    explanation = build("isofactual", {"n_components": 3, "betas": [-2, 0, 2], "target_logits": [-2, 1.5]}) \
        .explain(model, tiny_images(24, seed=5))
    assert explanation.images.shape == (6, 3, 3, 16, 16)
    targets = torch.tensor([row["target_logit"] for row in explanation.rows], dtype=torch.float64)
    assert (explanation.logits - targets[:, None]).abs().max() < 1e-3
    components = explanation.extra["components"]
    assert (components @ model.weight).abs().max() < 1e-8
    ratios = explanation.extra["explained_variance_ratio"]
    assert ratios == sorted(ratios, reverse=True)
    # moving along a component changes the image
    assert (explanation.images[0, 0] - explanation.images[0, 2]).abs().max() > 1e-3


def test_saliency_is_zero_at_alpha_zero_and_nonzero_otherwise():
    model = tiny_model()
    explanation = build("saliency", {"alphas": [0.0, 3.0], "level": 0}).explain(model, tiny_images(3))
    assert explanation.maps.shape == (3, 2, 16, 16)
    assert explanation.maps[:, 0].abs().max() == 0
    assert explanation.maps[:, 1].abs().max() > 1e-4


def test_saliency_equals_norm_of_change_times_cosine():
    generator = torch.Generator().manual_seed(0)
    h = torch.randn(2, 6, 4, 4, generator=generator, dtype=torch.float64)
    changed = h + torch.randn(2, 6, 4, 4, generator=generator, dtype=torch.float64)
    delta = changed - h
    cosine = torch.nn.functional.cosine_similarity(delta, h, dim=1)
    assert torch.allclose(saliency_map(h, changed), delta.norm(dim=1) * cosine)


def test_example_based_cells_come_from_their_logit_bins():
    model = tiny_model()
    images = tiny_images(60, seed=9)
    from explainers.core.methods._base import as_images
    logits = model.logit(as_images(model, images, "t")).detach().numpy()
    targets = sorted({round(float(t), 3) for t in np.percentile(logits, [10, 50, 90])})
    explanation = build("example_based", {"target_logits": targets, "per_column": 3, "seed": 1}) \
        .explain(model, images)
    edges = bin_edges(targets)
    for column in range(len(targets)):
        cell_logits = explanation.logits[:, column].numpy()
        assert ((cell_logits >= edges[column]) & (cell_logits < edges[column + 1])).all()
    index = explanation.source_index.flatten().tolist()
    assert len(set(index)) == len(index)  # without replacement
    again = build("example_based", {"target_logits": targets, "per_column": 3, "seed": 1}).explain(model, images)
    assert torch.equal(again.source_index, explanation.source_index)


def test_example_based_says_which_bin_is_too_small():
    with pytest.raises(MethodError, match="only 0 images have a logit in bin 1"):
        build("example_based", {"target_logits": [0, 1000], "per_column": 2}).explain(tiny_model(), tiny_images(10))


def test_symmetric_targets_follow_the_study_percentiles():
    logits = np.linspace(-10, 10, 2001)
    targets = symmetric_targets(logits, (50, 90))
    assert targets == pytest.approx([-9, -5, 0, 5, 9], abs=0.02)


@pytest.mark.parametrize("name, params, message", [
    ("nonexistent", {}, "unknown explanation method"),
    ("counterfactual_interpolation", {}, "exactly one of alphas or target_logits"),
    ("counterfactual_interpolation", {"alphas": [1, float("nan")]}, "finite"),
    ("counterfactual_interpolation", {"alphas": "1,2"}, "list of numbers"),
    ("counterfactual_interpolation", {"alpha": [1]}, "unknown parameter"),
    ("isofactual", {"n_components": 0}, "n_components"),
    ("saliency", {"alphas": [1], "level": -1}, "level"),
    ("example_based", {"target_logits": [1, 0]}, "increasing"),
    ("example_based", {"per_column": 2.5}, "per_column"),
])
def test_invalid_method_configurations_fail_clearly(name, params, message):
    with pytest.raises(MethodError, match=message):
        method_config(name, params)


@pytest.mark.parametrize("name, params", [
    ("counterfactual_interpolation", {"alphas": [1.0]}),
    ("isofactual", {"n_components": 1}),
    ("saliency", {"alphas": [1.0]}),
    ("example_based", {"target_logits": [0.0], "per_column": 1}),
])
def test_every_method_rejects_images_of_the_wrong_size(name, params):
    with pytest.raises(MethodError, match="16×16 px"):
        build(name, params).explain(tiny_model(), np.zeros((4, 32, 32, 3), dtype=np.uint8))


def test_configs_are_frozen():
    config = method_config("counterfactual_interpolation", {"alphas": [1, 2]})
    assert config.alphas == (1.0, 2.0)
    with pytest.raises(Exception):
        config.alphas = (3.0,)


def test_saliency_rejects_a_level_the_model_lacks():
    with pytest.raises(MethodError, match="level 5 does not exist"):
        build("saliency", {"alphas": [1.0], "level": 5}).explain(tiny_model(), tiny_images(2))

"""The explainer's properties (compatibility, self-consistency, data consistency) and the confounding metric."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.core.evaluation import exaggeration as ev
from explainers.core.evaluation.counterfactual_quality import REGRESSED_PARAMETERS, ParameterReadout
from explainers.core.nets.cnn import CNNClassifier, CNNConfig
from explainers.core.nets.exaggeration import ExaggerationConfig, ExaggerationNet
from explainers.core.methods.gradients import logit_function


def test_compatibility_is_perfect_for_achieved_equal_requested_and_reports_the_gap():
    requested = np.tile([0.05, 0.5, 0.95], (4, 1))
    perfect = ev.compatibility(requested, requested)
    assert perfect["correlation"] == pytest.approx(1.0) and perfect["mean_abs_gap"] == 0.0
    off = ev.compatibility(requested, np.clip(requested + 0.1, 0, 1))
    assert off["mean_abs_gap"] == pytest.approx((0.1 + 0.1 + 0.05) / 3)
    assert off["per_requested"]["0.500"]["mean"] == pytest.approx(0.6)


def test_compatibility_figure_is_written(tmp_path):
    requested = np.tile(np.linspace(0.05, 0.95, 10), (5, 1))
    ev.compatibility_figure(requested, requested * 0.8, tmp_path / "fig3.png", title="test")
    assert (tmp_path / "fig3.png").stat().st_size > 1000


def test_frechet_distance_of_identical_and_shifted_gaussian_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 3))
    assert ev.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # a pure shift of the mean by d adds ||d||^2 and nothing else
    assert ev.frechet_distance(a, a + np.array([1.0, 2.0, 0.0])) == pytest.approx(5.0, abs=1e-6)
    assert np.isnan(ev.frechet_distance(a[:1], a))


def test_confounding_metric_on_a_hand_built_case():
    query = np.array([0, 0, 1, 1])
    result = ev.confounding(query, {"stretchy": np.array([1, 1, 1, 1]), "sticky": np.array([0, 0, 1, 0])})
    assert result["stretchy"] == {"attribute_1": 1.0, "attribute_0": 0.0, "flipped": 0.5}
    assert result["sticky"] == {"attribute_1": 0.25, "attribute_0": 0.75, "flipped": 0.25}
    with pytest.raises(ValueError, match="3 explanations for 4 queries"):
        ev.confounding(query, {"sticky": np.array([0, 0, 1])})


class ColourOnly(torch.nn.Module):
    """A read-out network that outputs the mean red minus the mean blue as 'obj_color' (others zero)."""

    def forward(self, x):
        out = torch.zeros(x.shape[0], len(REGRESSED_PARAMETERS))
        out[:, REGRESSED_PARAMETERS.index("obj_color")] = x[:, 0].mean((1, 2)) - x[:, 2].mean((1, 2))
        return out


def test_colour_attribute_splits_the_read_out_colour_at_one_half():
    readout = ParameterReadout(ColourOnly(), np.full(len(REGRESSED_PARAMETERS), 0.5),
                               np.ones(len(REGRESSED_PARAMETERS)), {k: 1.0 for k in REGRESSED_PARAMETERS})
    red = np.zeros((2, 8, 8, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((2, 8, 8, 3), np.uint8)
    blue[..., 2] = 255
    assert ev.colour_attribute(readout, np.concatenate([red, blue])).tolist() == [1, 1, 0, 0]


@pytest.fixture(scope="module")
def explainer_and_classifier():
    torch.manual_seed(0)
    f = CNNClassifier(CNNConfig(image_size=16, width=4, blocks=2, feature_dim=8)).eval()
    net = ExaggerationNet(ExaggerationConfig(image_size=16, channels=4, levels=2, num_bins=4)).eval()
    with torch.no_grad():  # an untrained generator ignores the bin (gamma 1, beta 0): make the bins matter
        net.generator_norm.beta.weight.normal_(0.0, 1.0)
    net.record_classifier(logit_function(f))
    return net, logit_function(f), f


def test_rows_self_consistency_data_consistency_and_confounding_run_on_tiny_nets(explainer_and_classifier):
    net, forward, f = explainer_and_classifier
    images = np.random.default_rng(1).integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    rows = ev.explanation_rows(net, forward, images, steps=4, batch_size=5)
    assert rows["images"].shape == (12, 4, 16, 16, 3) and rows["images"].dtype == np.uint8
    assert rows["requested"].shape == rows["achieved"].shape == rows["logits"].shape == (12, 4)
    assert np.allclose(rows["requested"][0], [0.125, 0.375, 0.625, 0.875])
    consistency = ev.self_consistency(net, forward, images, steps=2)
    assert set(consistency) == {"identity_l1", "identity_same_class", "identity_posterior_gap", "cycle_l1",
                                "cycle_same_class", "cycle_posterior_gap"}
    assert 0 <= consistency["cycle_same_class"] <= 1 and consistency["identity_l1"] > 0
    realism = ev.data_consistency(f.features, images, rows["probability"], rows["images"].reshape(-1, 16, 16, 3),
                                  rows["achieved"].ravel())
    assert realism["overall"] >= 0 and realism["generated_images"] == 48 and realism["feature_dim"] == 8
    readout = ParameterReadout(ColourOnly(), np.zeros(len(REGRESSED_PARAMETERS)),
                               np.ones(len(REGRESSED_PARAMETERS)), {k: 1.0 for k in REGRESSED_PARAMETERS})
    bias = ev.confounding_metric(net, forward, images, readout, ["sticky", "stretchy"])
    assert set(bias) >= {"sticky", "stretchy", "query_attribute_1"}
    assert bias["attribute_1_shift_to_target"] == pytest.approx(
        bias["stretchy"]["attribute_1"] - bias["sticky"]["attribute_1"])
    changes = ev.parameter_changes(readout, rows)
    assert changes["ranking"][0] == "obj_color"  # the only parameter this read-out sees

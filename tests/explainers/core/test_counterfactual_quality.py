"""The ideal-counterfactual read-out: slopes per unit logit along rows and the seed's expected pattern."""
from __future__ import annotations

import numpy as np
import pytest

from explainers.core.evaluation.counterfactual_quality import REGRESSED_PARAMETERS, ideal_pattern, row_slopes


def test_row_slopes_recover_the_change_per_unit_logit():
    rng = np.random.default_rng(0)
    logits = np.sort(rng.normal(size=(6, 5)) * 3, axis=1)
    true = np.array([0.5, -0.2, 0.0])
    readouts = rng.normal(size=(6, 1, 3)) + logits[..., None] * true  # per-row offsets, common slopes
    np.testing.assert_allclose(row_slopes(readouts, logits), np.tile(true, (6, 1)), atol=1e-12)


def test_a_row_without_logit_change_has_no_slope():
    slopes = row_slopes(np.ones((1, 3, 2)), np.zeros((1, 3)))
    assert np.isnan(slopes).all()


def _change(**sizes):
    return {key: {"per_logit_std_units": sizes.get(key, 0.01)} for key in REGRESSED_PARAMETERS}


def test_the_seed_pattern_passes_when_the_arms_lead_and_irrelevant_parameters_stay_small():
    result = ideal_pattern(_change(arm_position=-0.2, obj_color=0.08, obj_rotation_yaw=0.05))
    assert result["passes"] and result["ranking"][0] == "arm_position"
    assert result["relative_to_arms"]["obj_color"] == pytest.approx(0.4)


@pytest.mark.parametrize("sizes, failed", [
    ({"arm_position": 0.008, "obj_color": 0.053}, "arm_position_largest"),  # the old 32 px demo model
    ({"arm_position": 0.1, "obj_color": 0.05, "bg_color": 0.06}, "irrelevant_small"),
])
def test_the_seed_pattern_fails_when_colour_leads_or_the_background_moves(sizes, failed):
    result = ideal_pattern(_change(**sizes))
    assert not result["passes"] and not result["checks"][failed]


def test_a_parameter_the_readout_cannot_read_is_left_out_of_the_irrelevant_check():
    change = _change(arm_position=0.1, obj_color=0.05, spherical=0.06)
    assert not ideal_pattern(change)["passes"]
    change["spherical"]["readout_r2"] = 0.05
    result = ideal_pattern(change)
    assert result["passes"] and result["unreadable"] == ["spherical"]

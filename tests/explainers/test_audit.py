"""Bias audit (the seed's Table 3) and the ideal-counterfactual read-out."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from explainers.core.evaluation.audit import AUDIT_PARAMETERS, REGRESSED_PARAMETERS, format_text, pearson_ci
from explainers.services.training import model_train


def test_pearson_ci_matches_the_fisher_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    y = 0.5 * x + rng.normal(size=400)
    result = pearson_ci(x, y)
    z, half = np.arctanh(result["r"]), 1.959964 / np.sqrt(397)
    assert result["ci_low"] == pytest.approx(np.tanh(z - half), abs=1e-6)
    assert result["ci_high"] == pytest.approx(np.tanh(z + half), abs=1e-6)
    assert result["ci_low"] < 0.447 < result["ci_high"]  # population r = 0.5 / sqrt(1.25)


def test_the_audit_command_reports_every_parameter_and_the_counterfactual_readout(tmp_path):
    model_train(out=tmp_path / "tiny.pt", preset="quick", image_size=16, steps=4, train_size=64, val_size=32)
    from explainers.services.audit import bias_audit_run

    report = bias_audit_run(path=tmp_path / "tiny.pt", n_test=40, n_regression=80, n_rows=4, regressor_steps=5)
    assert [row["parameter"] for row in report["correlations"]] == [name for name, _, _ in AUDIT_PARAMETERS]
    for row in report["correlations"]:
        for key in ("data_probability", "change_probability", "data_logit", "change_logit"):
            cell = row[key]
            assert cell["n"] == 40
            assert cell["ci_low"] <= cell["r"] <= cell["ci_high"]
    readout = report["ideal_counterfactuals"]["parameters"]
    assert set(readout) == set(REGRESSED_PARAMETERS)
    assert "arm_position" in format_text(report)
    json.dumps(report)


def test_the_audit_command_rejects_a_broken_checkpoint(tmp_path):
    (tmp_path / "broken.pt").write_bytes(b"junk")
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("bias_audit", "--checkpoint", str(tmp_path / "broken.pt"), stdout=io.StringIO(),
                     stderr=io.StringIO())

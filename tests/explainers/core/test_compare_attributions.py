"""The seed's section 3.2 check: the directional derivative keeps xi, the gradient does not."""
from __future__ import annotations

import json

import pytest
import torch

from explainers.core.evaluation.attribution_comparison import (
    ComparisonSettings,
    compare,
    write_outputs,
)
from explainers.core.pixels import to_tensor
from tests.explainers.tiny_model import tiny_images, tiny_model


@pytest.fixture(scope="module")
def results():
    model = tiny_model()
    x = to_tensor(tiny_images(6, seed=21), torch.float64)
    reference = to_tensor(tiny_images(48, seed=22), torch.float64)
    out = compare(model, x, reference=reference, settings=ComparisonSettings(steps=4, components=8,
                                                                             smoothgrad_samples=4))
    return out, x


def test_every_method_raises_the_logit_but_only_the_directional_derivative_keeps_xi(results):
    out, _ = results
    methods = out["methods"]
    for name in ("gradient", "smoothgrad", "directional_derivative"):
        assert methods[name]["summary"]["logit_change"]["mean"] > 1.0  # target: +2
    direction = methods["directional_derivative"]["summary"]
    gradient = methods["gradient"]["summary"]
    assert direction["orthogonal_to_parallel"]["median"] < 0.25
    assert gradient["orthogonal_to_parallel"]["median"] > 3 * direction["orthogonal_to_parallel"]["median"]
    assert gradient["xi_change_std"]["mean"] > 3 * direction["xi_change_std"]["mean"]


def test_outputs_table_json_and_figure(results, tmp_path):
    out, x = results
    files = write_outputs(dict(out), x, tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["methods"]) == {"gradient", "smoothgrad", "directional_derivative"}
    assert len(data["methods"]["gradient"]["per_sample"]["xi_change_std"]) == 6
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "directional_derivative" in (tmp_path / "table.txt").read_text()
    assert files["figure"].endswith("figure.png")


def test_settings_are_validated():
    with pytest.raises(ValueError, match="steps"):
        ComparisonSettings(steps=0)
    with pytest.raises(ValueError, match="logit_change"):
        ComparisonSettings(logit_change=-1)

"""The counterfactual comparison: exact metrics on hand-built inputs, refusals recorded, the table."""
from __future__ import annotations

import pytest
import torch

from explainers.core.evaluation import counterfactual_comparison as cc
from tests.explainers.counterfactual_fixtures import Brightness, GreyGenerator, dark_images


class ExactAutoencoder(torch.nn.Module):
    """Reconstructs every image as a constant grey ``level``: the squared error is known exactly."""

    def __init__(self, level: float):
        super().__init__()
        self.level = torch.nn.Parameter(torch.tensor(level))

    def reconstruct(self, x):
        return torch.full_like(x, float(self.level))


def _run(counterfactuals, targets, evaluations=None, method="input_gradient_descent"):
    entrant = cc.Entrant("hand-built", method, {}, Brightness())
    return cc.Run(entrant, counterfactuals, torch.as_tensor(targets), evaluations, seconds=2.0)


def test_validity_l1_and_im1_are_exact_on_hand_built_images():
    dark_level, bright_level = 64.5 / 256, 192.5 / 256  # pixel-bin centres: served exactly as given
    x = torch.full((2, 3, 8, 8), dark_level)
    bright = torch.full((1, 3, 8, 8), bright_level)
    counterfactuals = torch.cat([bright, x[1:]])  # the first flips the class, the second does not move
    run = _run(counterfactuals, [1, 1], evaluations=[10, 30])
    class_vaes = {0: ExactAutoencoder(dark_level), 1: ExactAutoencoder(bright_level)}
    metrics = cc.row_metrics(run, x, classifier=Brightness(), oracle=Brightness(scale=5.0), vae=GreyGenerator(),
                             class_vaes=class_vaes)
    assert metrics["valid"] == [True, False] and metrics["valid_oracle"] == [True, False]
    assert metrics["l1_pixels"] == pytest.approx([0.5, 0.0])
    # the grey generator's latent is logit(mean)
    gap = float(torch.logit(torch.tensor(bright_level)) - torch.logit(torch.tensor(dark_level)))
    assert metrics["l1_latent"] == pytest.approx([gap, 0.0], abs=1e-4)
    # IM1 = error under the target class's autoencoder / error under the original class's
    assert metrics["im1"][0] == pytest.approx(0.0, abs=1e-9)
    assert metrics["im1"][1] == pytest.approx(192 * 0.5 ** 2 / 1e-8, rel=1e-3)
    row = cc.summary_row(run, metrics, 2)
    assert row["validity"] == 0.5 and row["evaluations"] == 20 and row["seconds_per_image"] == 1.0


def test_a_refusing_method_is_recorded_with_its_reason():
    entrant = cc.Entrant("Clarity without a VAE", "clarity", {"generator_model": 1}, Brightness())
    rows, details = cc.compare([entrant], dark_images(), classifier=Brightness())
    assert "needs a generator" in rows[0]["error"] and details == {}
    assert "not run" in cc.format_table(rows)


def test_compare_runs_registered_methods_and_counts_their_evaluations():
    entrants = [cc.Entrant("descent", "input_gradient_descent", {"learning_rate": 0.05}, Brightness()),
                cc.Entrant("REVISE", "revise", {"generator_model": 1, "learning_rate": 0.1}, Brightness(),
                           {"generator": GreyGenerator()})]
    rows, details = cc.compare(entrants, dark_images(n=2), classifier=Brightness(), oracle=Brightness(scale=10.0),
                               vae=GreyGenerator())
    assert [row["validity"] for row in rows] == [1.0, 1.0]
    assert all(row["evaluations"] > 0 for row in rows)
    assert rows[1]["evaluations"] > rows[0]["evaluations"]  # the decoder runs forward and backward as well
    table = cc.format_table(rows)
    assert "REVISE" in table and "descent" in table


def test_ecinn_joins_with_its_own_model_as_the_judge():
    from explainers.core import pixels
    from tests.explainers.ibinn_tiny import digits_data, tiny_digits_model

    model = tiny_digits_model()
    images = pixels.to_tensor(digits_data()["test_images"][:4]).double()
    rows, details = cc.compare([cc.Entrant("ECINN", "ecinn", {}, model)], images, classifier=model)
    assert rows[0]["error"] == ""
    # one forward pass per image and one inverse pass per counterfactual kept, from ECINN's own report
    assert rows[0]["evaluations"] == pytest.approx(2.0)
    targets = details["ECINN"]["targets"]
    with torch.no_grad():
        own = model.class_logits(images).argmax(1)
    assert all(t != int(o) for t, o in zip(targets, own))
    assert rows[0]["validity"] >= 0.75

"""Serving counterfactuals as 8-bit images whose own logits are their targets (explainers.core.methods.served)."""
from __future__ import annotations

import numpy as np
import torch

from explainers.core import pixels
from explainers.core.methods.counterfactual_interpolation import served_counterfactuals, set_logit
from explainers.core.methods.served import neighbour_levels, serve_at_target
from tests.explainers.tiny_model import tiny_images, tiny_model


def _decoded(model, n=6, targets=(-0.3, 0.0, 0.3)):
    latent = model.encode(pixels.to_tensor(tiny_images(n, seed=8), model.weight.dtype)).repeat_each(len(targets))
    wanted = torch.tensor(targets, dtype=model.weight.dtype).repeat(n)
    with torch.no_grad():
        return latent, wanted, model.decode(latent.with_z(set_logit(model, latent.z, wanted)))


def test_the_served_image_is_a_rounding_of_the_decoded_one_and_its_logit_is_measured_on_it():
    model = tiny_model(torch.float32)
    _, targets, decoded = _decoded(model)
    served = serve_at_target(model, decoded, targets, tolerance=1e-4)
    as_uint8 = pixels.to_uint8(served.images)
    assert torch.equal(pixels.to_tensor(as_uint8), served.images)  # exactly what the PNG encodes
    nearest, other = neighbour_levels(decoded)
    levels = served.images * 256 - 0.5
    assert bool(((levels - nearest).abs() < 1e-3).logical_or((levels - other).abs() < 1e-3).all())
    assert torch.equal((levels.round() != nearest).flatten(1).sum(1), served.flips)
    with torch.no_grad():
        measured = model.logit(pixels.to_tensor(as_uint8)).double()
    np.testing.assert_allclose(served.logits.numpy(), measured.numpy(), atol=1e-5)


def test_choosing_the_rounding_brings_the_served_logit_to_the_target_and_never_does_worse():
    model = tiny_model(torch.float32)
    _, targets, decoded = _decoded(model)
    plain = serve_at_target(model, decoded, targets, steps=0)
    assert plain.flips.sum() == 0 and plain.forward == len(targets) and plain.backward == 0
    served = serve_at_target(model, decoded, targets, steps=4, tolerance=1e-4)
    plain_error = (plain.logits - targets.double()).abs()
    error = (served.logits - targets.double()).abs()
    assert bool((error <= plain_error + 1e-9).all())
    assert float(error.max()) < max(1e-3, 0.2 * float(plain_error.max()))
    assert served.forward > len(targets) and served.backward >= len(targets)


def test_a_corrected_latent_target_is_kept_only_where_it_serves_closer():
    """Without rounding steps, only the fixed-point correction of the latent target can close the gap."""
    model = tiny_model(torch.float32)
    latent, targets, _ = _decoded(model)
    once = served_counterfactuals(model, latent, targets, steps=0, corrections=0)
    corrected = served_counterfactuals(model, latent, targets, steps=0, corrections=3, tolerance=1e-5)
    error_once = (once.logits - targets.double()).abs()
    error = (corrected.logits - targets.double()).abs()
    assert bool((error <= error_once + 1e-9).all()) and float(error.mean()) < float(error_once.mean())
    moved = error < error_once
    assert bool((corrected.latent_logits[moved] != targets[moved]).all())
    assert torch.equal(corrected.latent_logits[~moved], targets[~moved])
    assert corrected.evaluations["inverse"] > len(targets) == once.evaluations["inverse"]

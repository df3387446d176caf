"""The generator family: beta-VAE / DIP-VAE network, objective, presets and checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from explainers.core.nets.glow import NetConfigError
from explainers.core.nets.vae import VAE, VAEConfig, dip_covariance, dip_penalty, kl_divergence
from explainers.core.training import vae as vae_family
from explainers.core.training.checkpoints import checkpoint_read, checkpoint_save
from explainers.core.training.families import family_of_preset
from explainers.core.training.loop import train

TINY = VAEConfig(image_size=8, in_channels=3, latent_dim=4, width=8, levels=2, hidden=16)


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    # two kinds of images (dark, bright) with structure a VAE can learn quickly
    labels = rng.integers(0, 2, n)
    images = (rng.random((n, 8, 8, 3)) * 40 + np.where(labels, 180, 40)[:, None, None, None]).astype(np.uint8)
    return {"train_images": images, "train_labels": labels, "val_images": images[:32], "val_labels": labels[:32]}


def test_shapes_and_decoded_range():
    model = VAE(TINY)
    with torch.no_grad():
        recon, mu, logvar = model(torch.rand(5, 3, 8, 8))
    assert recon.shape == (5, 3, 8, 8) and mu.shape == logvar.shape == (5, 4)
    assert float(recon.min()) >= 0 and float(recon.max()) <= 1
    with pytest.raises(NetConfigError, match="8×8"):
        model.encode(torch.rand(2, 3, 16, 16))


def test_the_loss_decreases_over_a_few_steps():
    config = vae_family.VAETrainConfig(net=TINY, steps=40, batch_size=32, learning_rate=3e-3, warmup_steps=1,
                                       eval_every=20, train_size=96, val_size=32)
    state = train(config, data=_data())
    first, last = state.history[0], state.history[-1]
    assert last["val_mse"] < first["val_mse"]
    assert last["loss"] < first["loss"]


def test_dip_penalty_is_zero_for_an_identity_covariance_and_positive_otherwise():
    assert float(dip_penalty(torch.eye(4), 10.0, 100.0)) == 0.0
    covariance = torch.eye(3)
    covariance[0, 1] = covariance[1, 0] = 0.5
    assert float(dip_penalty(covariance, 10.0, 0.0)) == pytest.approx(10 * 2 * 0.25)
    assert float(dip_penalty(2 * torch.eye(2), 0.0, 1.0)) == pytest.approx(2.0)


def test_dip_covariances_i_and_ii():
    mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    logvar = torch.log(torch.tensor([[0.5, 2.0], [1.5, 2.0]]))
    assert torch.allclose(dip_covariance(mu, logvar, "i"), torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    assert torch.allclose(dip_covariance(mu, logvar, "ii"), torch.tensor([[2.0, 0.0], [0.0, 2.0]]))


def test_kl_is_zero_at_the_prior():
    assert float(kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).abs().max()) == 0.0


def test_dipvae_adds_its_penalty_to_the_loss():
    torch.manual_seed(0)
    x = torch.rand(16, 3, 8, 8)
    plain = VAE(TINY).eval()
    dip = VAE(VAEConfig(**{**TINY.to_dict(), "dip": "ii"})).eval()
    dip.load_state_dict(plain.state_dict())
    config = vae_family.VAETrainConfig(net=TINY)
    loss_plain, _ = vae_family.FAMILY.loss(plain, x, None, config)
    loss_dip, metrics = vae_family.FAMILY.loss(dip, x, None, config)
    assert metrics["dip"] > 0 and float((loss_dip - loss_plain).detach()) == pytest.approx(metrics["dip"], rel=1e-4)


@pytest.mark.parametrize("changes, message", [
    ({"dip": "iii"}, "dip"), ({"levels": 4}, "divisible"), ({"beta": -1.0}, "beta"), ({"latent_dim": 0}, "latent_dim"),
])
def test_bad_network_configurations_fail(changes, message):
    with pytest.raises(NetConfigError, match=message):
        VAEConfig(**{**TINY.to_dict(), **changes})


def test_bad_training_configurations_fail():
    with pytest.raises(vae_family.VAETrainingError, match="class_label"):
        vae_family.VAETrainConfig(net=TINY, class_label=2)
    with pytest.raises(vae_family.VAETrainingError, match="1 channel"):
        vae_family.VAETrainConfig(net=TINY, dataset="digits")
    with pytest.raises(vae_family.VAETrainingError, match="recon_sigma"):
        vae_family.VAETrainConfig(net=TINY, recon_sigma=0)


def test_presets_are_found_by_name_and_registered_as_generators():
    for name in ("vae-two4two", "dipvae-two4two", "vae-digits", "vae-two4two-class1"):
        assert family_of_preset(name) is vae_family.FAMILY
    assert vae_family.FAMILY.registered_kind == "generator"
    assert vae_family.PRESETS["dipvae-two4two"].net.dip == "ii"
    assert vae_family.preset("vae-two4two", image_size=32).net.image_size == 32


def test_class_label_keeps_one_class_of_the_digits():
    config = vae_family.preset("vae-digits", class_label=3)
    data = vae_family.dataset_arrays(config)
    assert set(data["train_labels"].tolist()) == {3} and set(data["val_labels"].tolist()) == {3}
    assert data["train_images"].shape[1:] == (16, 16)


def test_checkpoint_round_trip(tmp_path):
    config = vae_family.VAETrainConfig(net=TINY, steps=2, batch_size=8, warmup_steps=1, eval_every=2,
                                       train_size=96, val_size=32)
    state = train(config, data=_data())
    checkpoint_save(tmp_path / "vae.pt", config=config, state=state, metrics={"val_mse": 0.1})
    loaded = checkpoint_read(tmp_path / "vae.pt")
    assert isinstance(loaded.model, VAE) and loaded.config == config
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(loaded.model.reconstruct(x), state.model.eval().reconstruct(x))

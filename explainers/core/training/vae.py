"""The generator family: a beta-VAE or DIP-VAE (explainers.core.nets.vae) on Two4Two or the digits.

Objective per image (Kingma & Welling 2014; Higgins et al. 2017; Kumar et al. 2018 as used by CEM-MAF):
  ||x - D(z)||^2 / (2 sigma^2)  +  beta * KL(q(z|x) || N(0, I))  [+ DIP-VAE covariance penalty per batch],
a Gaussian decoder of fixed standard deviation ``recon_sigma`` (the trade-off between sharp reconstructions
and a regular latent space; CEM-MAF trains its DIP-VAE "with mse loss"). ``class_label`` trains on one class
only: the class-conditional autoencoders of the comparison's realism measure (reconstruction error under
an autoencoder of the target class against one of the original class, Van Looveren & Klaise's IM1).

Evaluation reports the reconstruction of the posterior mean D(mu(x)) (``mse`` per pixel, ``psnr``),
the KL and the negative ELBO in bits per dimension (``bits_per_dim``, the Gaussian's continuous density
discretised to 8-bit bins, as the flows report it).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from explainers.core.datasets import digits, two4two
from explainers.core.nets.glow import NetConfigError
from explainers.core.nets.vae import VAE, VAEConfig, dip_covariance, dip_penalty, kl_divergence

from .config import NetTrainConfig, dataset_splits, preset_with
from .family import ModelFamily

CHECKPOINT_FORMAT = "studyserver.vae.v1"
DATASETS = ("two4two", "digits")
#: What a registered VAE is to the platform's model table: an auxiliary generator of explanation methods.
REGISTERED_KIND = "generator"


class VAETrainingError(ValueError):
    """An invalid VAE training configuration."""


@dataclass(frozen=True)
class VAETrainConfig(NetTrainConfig):
    """Everything a VAE training run depends on; stored in the checkpoint."""

    net_class: ClassVar[type] = VAEConfig
    error_class: ClassVar[type[Exception]] = VAETrainingError

    net: VAEConfig = field(default_factory=VAEConfig)
    dataset: str = "two4two"
    sampler: str = "study"
    class_label: int | None = None
    recon_sigma: float = 0.1
    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    train_size: int = 16000  # Two4Two only; the digits use their fixed split
    val_size: int = 1000
    dataset_seed: int = 0
    seed: int = 0
    eval_every: int = 250
    grad_clip: float = 50.0

    def __post_init__(self) -> None:
        self.check_common()
        if self.dataset not in DATASETS:
            raise VAETrainingError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset == "two4two":
            if self.sampler not in two4two.SAMPLERS:
                raise VAETrainingError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}")
            if self.net.in_channels != 3:
                raise VAETrainingError("Two4Two images have 3 channels: set in_channels=3")
        if self.dataset == "digits" and self.net.in_channels != 1:
            raise VAETrainingError("the digits have 1 channel: set in_channels=1")
        classes = 2 if self.dataset == "two4two" else len(digits.CLASS_NAMES)
        if self.class_label is not None and (isinstance(self.class_label, bool) or self.class_label not in range(classes)):
            raise VAETrainingError(f"class_label must be none or a class index 0..{classes - 1}, got {self.class_label!r}")
        if isinstance(self.recon_sigma, bool) or not isinstance(self.recon_sigma, (int, float)) or not self.recon_sigma > 0:
            raise VAETrainingError(f"recon_sigma must be a positive number, got {self.recon_sigma!r}")

    def dataset_record(self) -> dict[str, Any]:
        if self.dataset == "digits":
            record = {"kind": "digits", "seed": self.dataset_seed, "size": self.image_size, "splits": "stratified",
                      "class_names": list(digits.CLASS_NAMES)}
        else:
            record = {"kind": "two4two", "sampler": self.sampler, "seed": self.dataset_seed, "size": self.image_size,
                      "train_size": self.train_size, "val_size": self.val_size, "val_seed": self.val_seed}
        return {**record, "class_label": self.class_label}


def _two4two(size: int, net: dict[str, Any] | None = None, **overrides: Any) -> VAETrainConfig:
    settings = {"dataset": "two4two", "steps": 3000, "batch_size": 64, "learning_rate": 1e-3, **overrides}
    return VAETrainConfig(net=VAEConfig(image_size=size, in_channels=3, latent_dim=32, width=32,
                                        levels=4 if size >= 64 else 3, hidden=256, **(net or {})), **settings)


def _digits(**overrides: Any) -> VAETrainConfig:
    return VAETrainConfig(net=VAEConfig(image_size=16, in_channels=1, latent_dim=16, width=32, levels=2,
                                        hidden=256), dataset="digits", steps=3000, batch_size=64,
                          learning_rate=1e-3, **overrides)


#: Named configurations. "vae-two4two": a beta-VAE (beta 1) at 64 px, the architecture of CEM-MAF's table
#: (4 stride-2 convolutions, FC 256, 32 latents); "dipvae-two4two": the same with DIP-VAE (ii) for
#: disentangled latents (CEM-MAF's attribute functions); "vae-digits": 16 px digits with 16 latents (Clarity's
#: MNIST latent size). "*-class0" / "*-class1": the class-conditional autoencoders of the realism measure
#: (``--class-label`` or ``class_label=`` makes any other); "vae-quick": tiny, for tests and smoke runs.
PRESETS: dict[str, VAETrainConfig] = {
    "vae-two4two": _two4two(64),
    "dipvae-two4two": _two4two(64, net={"dip": "ii", "lambda_od": 10.0, "lambda_d": 100.0}),
    "vae-two4two-class0": _two4two(64, class_label=0, steps=2000),
    "vae-two4two-class1": _two4two(64, class_label=1, steps=2000),
    "vae-digits": _digits(),
    "vae-quick": VAETrainConfig(net=VAEConfig(image_size=32, latent_dim=8, width=16, levels=3, hidden=64),
                                steps=200, batch_size=32, train_size=2000, val_size=200, warmup_steps=20,
                                eval_every=100),
}


def preset(name: str, **overrides: Any) -> VAETrainConfig:
    """A named configuration with overrides (``image_size`` goes to the network)."""
    return preset_with(PRESETS, name, VAETrainingError, (NetConfigError,), **overrides)


def _only_class(images: np.ndarray, labels: np.ndarray, label: int | None) -> tuple[np.ndarray, np.ndarray]:
    if label is None:
        return images, labels
    keep = labels == label
    return images[keep], labels[keep]


def dataset_arrays(config: VAETrainConfig, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Train/validation images (and labels, which only ``class_label`` reads), filtered to one class if asked."""
    data = dataset_splits(config, cache_dir)
    for split in ("train", "val", "test"):
        if f"{split}_images" in data:
            data[f"{split}_images"], data[f"{split}_labels"] = _only_class(
                data[f"{split}_images"], data[f"{split}_labels"], config.class_label)
    return data


def vae_terms(model: VAE, x: torch.Tensor, recon_sigma: float) -> dict[str, torch.Tensor]:
    """Per-image reconstruction (Gaussian negative log-likelihood up to its constant) and KL, plus the batch's
    DIP-VAE penalty (zero for a beta-VAE)."""
    recon, mu, logvar = model(x)
    squared = (recon - x).pow(2).flatten(1).sum(dim=1)
    config = model.config
    if config.dip is not None:
        dip = dip_penalty(dip_covariance(mu, logvar, config.dip), config.lambda_od, config.lambda_d)
    else:
        dip = x.new_zeros(())
    return {"squared": squared, "recon": squared / (2 * recon_sigma ** 2), "kl": kl_divergence(mu, logvar),
            "dip": dip}


def _loss(model: VAE, x, y, config: VAETrainConfig):
    terms = vae_terms(model, x, config.recon_sigma)
    loss = (terms["recon"] + model.config.beta * terms["kl"]).mean() + terms["dip"]
    dims = x[0].numel()
    return loss, {"loss": float(loss.detach()), "mse": float(terms["squared"].detach().mean()) / dims,
                  "kl": float(terms["kl"].detach().mean()), "dip": float(terms["dip"].detach())}


def _bits_per_dim(squared: torch.Tensor, kl: torch.Tensor, dims: int, sigma: float) -> torch.Tensor:
    """Negative ELBO in bits per dimension of 8-bit data: the Gaussian density at 1/256 bin width."""
    nll = squared / (2 * sigma ** 2) + dims * (0.5 * math.log(2 * math.pi * sigma ** 2))
    return (nll + kl) / (dims * math.log(2)) + 8.0


def make_eval_sums(recon_sigma: float):
    def eval_sums(model: VAE, x, y) -> dict[str, float]:
        mu, logvar = model.encode(x)
        squared = (model.decode(mu) - x).pow(2).flatten(1).sum(dim=1)
        kl = kl_divergence(mu, logvar)
        dims = x[0].numel()
        mse = squared / dims
        return {"mse": float(mse.sum()), "psnr": float((-10 * torch.log10(mse.clamp_min(1e-10))).sum()),
                "kl": float(kl.sum()), "bits_per_dim": float(_bits_per_dim(squared, kl, dims, recon_sigma).sum())}
    return eval_sums


def _eval_sums(model: VAE, x, y) -> dict[str, float]:
    # The loop's evaluation does not pass the training configuration; the checkpoint's default sigma is used
    # for bits/dim (reconstruction error, the recorded quality, does not depend on it).
    return make_eval_sums(VAETrainConfig.recon_sigma)(model, x, y)


FAMILY = ModelFamily(
    architecture=VAE.architecture, checkpoint_format=CHECKPOINT_FORMAT, model_class=VAE,
    config_class=VAETrainConfig, loss=_loss, eval_sums=_eval_sums, dataset_arrays=dataset_arrays,
    extra_metrics=lambda config: {"beta": config.net.beta, "dip": config.net.dip, "class_label": config.class_label,
                                  "recon_sigma": config.recon_sigma},
    presets=PRESETS, registered_kind=REGISTERED_KIND,
)

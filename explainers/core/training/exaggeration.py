"""The progressive-exaggeration explainer as a model family: configuration, presets and losses.

Singla et al. (seeds/progressive-exaggeration.txt), section 2.4, eqs. 7-9: with x_delta = G(E(x), c') for a
target bin c',

* discriminator (hinge, eq. 7): L_D = E[max(0, 1 - D(x, c_f(x, 0)))] + E[max(0, 1 + D(x_delta, c'))];
* generator and encoder (eq. 8-9): L_G = lambda_gan * (-E[D(x_delta, c')]) + lambda_f * KL(q || f(x_delta))
  + lambda_rec * (||x - G(E(x), c_f(x, 0))||_1 + ||x - G(E(x_delta), c_f(x, 0))||_1),

where q is the requested posterior f(x) + delta (the centre of bin c') and KL the divergence between the
Bernoulli distributions of the requested and the achieved posterior (section 2.2). Target bins are drawn
uniformly, so every bin is trained equally often (the reference code rebalances per bin). Adam with
betas (0, 0.9) as in Projection GAN; the GAN loop itself is in training/exaggeration_loop.py (two optimizers).

The family is listed in training/families.py so that its checkpoints are written and read (sha256, strict
weights) like every other network's; its presets need the classifier to explain and are therefore trained
with ``train_explainer``, not ``train_model``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from explainers.core.datasets import two4two
from explainers.core.nets.exaggeration import ExaggerationConfig, ExaggerationNet, LogitFunction, checked_logits
from explainers.core.nets.glow import NetConfigError

from . import cnn
from .config import NetTrainConfig, preset_with
from .family import ModelFamily

CHECKPOINT_FORMAT = "studyserver.progressive_exaggeration.v1"


class ExaggerationTrainingError(ValueError):
    """An invalid explainer training configuration."""


@dataclass(frozen=True)
class ExaggerationTrainConfig(NetTrainConfig):
    """Everything an explainer training run depends on, including the classifier it explains (sha256)."""

    net_class: ClassVar[type] = ExaggerationConfig
    error_class: ClassVar[type[Exception]] = ExaggerationTrainingError

    net: ExaggerationConfig = field(default_factory=ExaggerationConfig)
    classifier_sha256: str = ""
    dataset: str = "two4two"
    sampler: str = "study"
    dataset_seed: int = 0
    train_size: int = 6000
    val_size: int = 500
    steps: int = 3000
    batch_size: int = 32
    learning_rate: float = 2e-4
    warmup_steps: int = 0
    discriminator_steps: int = 1
    lambda_gan: float = 1.0
    lambda_f: float = 1.0
    lambda_rec: float = 100.0
    seed: int = 0
    eval_every: int = 250
    grad_clip: float = 100.0

    def __post_init__(self) -> None:
        self.check_common()
        for name in ("lambda_gan", "lambda_f", "lambda_rec"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ExaggerationTrainingError(f"{name} must be a number >= 0, got {value!r}")
        steps = self.discriminator_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 10:
            raise ExaggerationTrainingError(f"discriminator_steps must be an integer in 1..10, got {steps!r}")
        if not isinstance(self.classifier_sha256, str):
            raise ExaggerationTrainingError("classifier_sha256 must be a string")
        if self.dataset not in cnn.DATASETS:
            raise ExaggerationTrainingError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(cnn.DATASETS)}")
        if self.dataset == "two4two" and self.sampler not in two4two.SAMPLERS:
            raise ExaggerationTrainingError(
                f"unknown sampler {self.sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}")

    def learning_rate_at(self, step: int) -> float:
        """GANs train at a constant rate (no warm-up or decay)."""
        return self.learning_rate

    def dataset_record(self) -> dict[str, Any]:
        return {**cnn.CNNTrainConfig.dataset_record(self), "classifier_sha256": self.classifier_sha256}


#: Named configurations. "exaggeration-two4two-32": the 2-core CPU explainer (about 20 minutes); the
#: "-64" preset is for a GPU (train_explainer --device cuda); "exaggeration-tiny" for tests.
EXPLAINER_PRESETS: dict[str, ExaggerationTrainConfig] = {
    "exaggeration-two4two-32": ExaggerationTrainConfig(
        net=ExaggerationConfig(image_size=32, channels=8, levels=2, num_bins=10),
        steps=3000, batch_size=16, learning_rate=5e-4, lambda_f=5.0, lambda_rec=20.0, train_size=6000,
        eval_every=100),
    "exaggeration-two4two-64": ExaggerationTrainConfig(
        net=ExaggerationConfig(image_size=64, channels=32, levels=3, num_bins=10),
        steps=3000, batch_size=64, lambda_f=5.0, lambda_rec=20.0, train_size=20000, val_size=1000,
        eval_every=500),
    "exaggeration-tiny": ExaggerationTrainConfig(
        net=ExaggerationConfig(image_size=16, channels=4, levels=2, num_bins=4),
        steps=4, batch_size=8, train_size=32, val_size=16, eval_every=2),
}


def explainer_preset(name: str, **overrides: Any) -> ExaggerationTrainConfig:
    """A named explainer configuration with overrides (``image_size`` goes to the network)."""
    return preset_with(EXPLAINER_PRESETS, name, ExaggerationTrainingError, (NetConfigError,), **overrides)


# ------------------------------------------------------------------------------------------- losses

def bernoulli_kl(q: Tensor, log_p: Tensor, log_not_p: Tensor) -> Tensor:
    """KL(Bernoulli(q) || Bernoulli(p)) per element, from log p and log(1 - p) (0 log 0 = 0, also where the
    classifier is saturated: p = 1 with q = 1 is no divergence)."""
    cross = torch.where(q > 0, q * log_p, 0.0) + torch.where(q < 1, (1 - q) * log_not_p, 0.0)
    return torch.xlogy(q, q) + torch.xlogy(1 - q, 1 - q) - cross


def class_log_probabilities(logits: Tensor, target_class: int) -> tuple[Tensor, Tensor]:
    """(log P(target class), log P(any other class)) from N x K logits, numerically stable."""
    log_all = torch.logsumexp(logits, dim=1)
    others = logits.clone()
    others[:, target_class] = float("-inf")
    return logits[:, target_class] - log_all, torch.logsumexp(others, dim=1) - log_all


def compatibility_kl(forward: LogitFunction, images: Tensor, requested: Tensor, target_class: int) -> Tensor:
    """Mean KL between the requested posterior f(x) + delta and the achieved f(x_delta) (section 2.2)."""
    log_p, log_not_p = class_log_probabilities(checked_logits(forward, images), target_class)
    return bernoulli_kl(requested, log_p, log_not_p).mean()


def discriminator_loss(model: ExaggerationNet, real: Tensor, real_bins: Tensor, fake: Tensor,
                       fake_bins: Tensor) -> Tensor:
    """Hinge loss of the discriminator (eq. 7)."""
    return F.relu(1.0 - model.discriminate(real, real_bins)).mean() + \
        F.relu(1.0 + model.discriminate(fake, fake_bins)).mean()


def generator_loss(model: ExaggerationNet, forward: LogitFunction, x: Tensor, source_bins: Tensor,
                   target_bins: Tensor, config: ExaggerationTrainConfig) -> tuple[Tensor, dict[str, float]]:
    """L_G of eqs. 8-9: adversarial + lambda_f * KL + lambda_rec * (reconstruction + cycle); with its parts."""
    z = model.encode(x)
    exaggerated = model.decode(z, target_bins)
    adversarial = -model.discriminate(exaggerated, target_bins).mean()
    requested = model.bin_centres().to(x.device)[target_bins]
    kl = compatibility_kl(forward, exaggerated, requested, model.config.target_class)
    reconstruction = (model.decode(z, source_bins) - x).abs().mean()
    cycle = (model.decode(model.encode(exaggerated), source_bins) - x).abs().mean()
    loss = config.lambda_gan * adversarial + config.lambda_f * kl + config.lambda_rec * (reconstruction + cycle)
    return loss, {"adversarial": float(adversarial.detach()), "kl": float(kl.detach()),
                  "reconstruction": float(reconstruction.detach()), "cycle": float(cycle.detach())}


FAMILY = ModelFamily(
    architecture=ExaggerationNet.architecture, checkpoint_format=CHECKPOINT_FORMAT, model_class=ExaggerationNet,
    config_class=ExaggerationTrainConfig, dataset_arrays=cnn.dataset_arrays, registered_kind="generator",
)

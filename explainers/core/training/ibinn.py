"""The class-conditional model family used by ECINN: an IB-INN style classifier (digits or Two4Two).

Loss (IB-INN, reference notes "(b)"): 2/(1+beta) L_x - 2 beta/(1+beta) L_y, see explainers.core.nets.ibinn.
The reference trains with SGD (lr 0.07) for many epochs; on the 2-core CPU budget the one training loop uses
Adam with its warm-up/cosine schedule and beta = 1, which the ECINN paper reports as a good balance ("values
close to one", section 4). After training, ECINN's one-off preprocessing - the mean embedding of the training
samples predicted as each class - is computed and stored in the checkpoint, so explaining never needs the
training set again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from explainers.core import pixels
from explainers.core.datasets import digits, two4two
from explainers.core.nets.glow import NetConfigError
from explainers.core.nets.ibinn import IBINNClassifier, IBINNConfig, ib_loss

from .config import NetTrainConfig, dataset_splits, preset_with
from .family import ModelFamily

CHECKPOINT_FORMAT = "studyserver.ibinn.v1"
DATASETS = ("digits", "two4two")


class IBINNTrainingError(ValueError):
    """An invalid IB-INN training configuration."""


@dataclass(frozen=True)
class IBINNTrainConfig(NetTrainConfig):
    """Everything an IB-INN training run depends on; stored in the checkpoint."""

    net_class: ClassVar[type] = IBINNConfig
    error_class: ClassVar[type[Exception]] = IBINNTrainingError

    net: IBINNConfig = field(default_factory=IBINNConfig)
    dataset: str = "digits"
    sampler: str = "study"  # Two4Two only
    dataset_seed: int = 0
    train_size: int = 5000  # Two4Two only; digits use their fixed split
    val_size: int = 500     # Two4Two only
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    beta: float = 1.0
    seed: int = 0
    eval_every: int = 250
    grad_clip: float = 50.0

    def __post_init__(self) -> None:
        self.check_common()
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not self.beta > 0:
            raise IBINNTrainingError(f"beta must be a positive number, got {self.beta!r}")
        if self.dataset not in DATASETS:
            raise IBINNTrainingError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset == "digits" and (self.net.num_classes != 10 or self.net.in_channels != 1):
            raise IBINNTrainingError("the digits have 10 classes and 1 channel: set num_classes=10, in_channels=1")
        if self.dataset == "two4two":
            if self.net.num_classes != 2 or self.net.in_channels != 3:
                raise IBINNTrainingError("Two4Two has 2 classes and 3 channels: set num_classes=2, in_channels=3")
            if self.sampler not in two4two.SAMPLERS:
                raise IBINNTrainingError(
                    f"unknown sampler {self.sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}")

    def dataset_record(self) -> dict[str, Any]:
        if self.dataset == "digits":
            return {"kind": "digits", "seed": self.dataset_seed, "size": self.image_size, "splits": "stratified",
                    "val_fraction": digits.VAL_FRACTION, "test_fraction": digits.TEST_FRACTION,
                    "class_names": list(digits.CLASS_NAMES)}
        return {"kind": "two4two", "sampler": self.sampler, "seed": self.dataset_seed, "size": self.image_size,
                "train_size": self.train_size, "val_size": self.val_size, "val_seed": self.val_seed,
                "label_noise": 0.0}


#: "digits": 10-class sklearn digits at 16 px; "two4two": Two4Two at 32 px; "*-quick": tiny, for tests.
IBINN_PRESETS: dict[str, IBINNTrainConfig] = {
    "digits": IBINNTrainConfig(net=IBINNConfig(image_size=16, in_channels=1, num_classes=10, levels=2,
                                               steps_per_level=3, hidden_channels=32, dense_steps=2,
                                               dense_hidden=256),
                               dataset="digits", steps=1200, batch_size=64, learning_rate=2e-3),
    "digits-quick": IBINNTrainConfig(net=IBINNConfig(image_size=16, in_channels=1, num_classes=10, levels=2,
                                                     steps_per_level=1, hidden_channels=16, dense_steps=2,
                                                     dense_hidden=128),
                                     dataset="digits", steps=300, batch_size=64, learning_rate=3e-3,
                                     warmup_steps=20, eval_every=100),
    "two4two": IBINNTrainConfig(net=IBINNConfig(image_size=32, in_channels=3, num_classes=2, levels=3,
                                                steps_per_level=2, hidden_channels=32, dense_steps=2,
                                                dense_hidden=256),
                                dataset="two4two", steps=1200, batch_size=32, learning_rate=1e-3,
                                train_size=4000, val_size=500),
    "two4two-quick": IBINNTrainConfig(net=IBINNConfig(image_size=16, in_channels=3, num_classes=2, levels=2,
                                                      steps_per_level=1, hidden_channels=8, dense_steps=1,
                                                      dense_hidden=64),
                                      dataset="two4two", steps=40, batch_size=16, learning_rate=2e-3,
                                      warmup_steps=5, train_size=192, val_size=200, eval_every=1000),
}


def ibinn_preset(name: str, **overrides: Any) -> IBINNTrainConfig:
    """A named configuration with overrides (``image_size`` goes to the network)."""
    return preset_with(IBINN_PRESETS, name, IBINNTrainingError, (NetConfigError,), **overrides)


def dataset_arrays(config: IBINNTrainConfig, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Train/validation (and, for digits, test) images and labels."""
    return dataset_splits(config, cache_dir)


def _loss(model: IBINNClassifier, x, y, config: IBINNTrainConfig):
    out = model(x)
    loss, parts = ib_loss(out, y, config.beta)
    accuracy = float((out.class_logits.argmax(1) == y).float().mean())
    return loss, {"loss": float(loss.detach()), "bits_per_dim": float(out.bits_per_dim.detach().mean()),
                  "accuracy": accuracy, **parts}


def _eval_sums(model: IBINNClassifier, x, y) -> dict[str, float]:
    out = model(x)
    return {"accuracy": float((out.class_logits.argmax(1) == y).sum()),
            "cross_entropy": float(torch.nn.functional.cross_entropy(out.class_logits, y, reduction="sum")),
            "bits_per_dim": float(out.bits_per_dim.sum())}


def fit_class_means(model: IBINNClassifier, images: np.ndarray, batch_size: int = 250) -> torch.Tensor:
    """ECINN's one-off preprocessing on (training) images: mean embedding per predicted class."""
    dtype = next(model.parameters()).dtype
    batches = (pixels.to_tensor(images[s:s + batch_size], dtype) for s in range(0, len(images), batch_size))
    return model.fit_predicted_class_means(batches)


FAMILY = ModelFamily(
    architecture=IBINNClassifier.architecture, checkpoint_format=CHECKPOINT_FORMAT, model_class=IBINNClassifier,
    config_class=IBINNTrainConfig, loss=_loss, eval_sums=_eval_sums, dataset_arrays=dataset_arrays,
    finish=fit_class_means, extra_metrics=lambda config: {"beta": config.beta}, presets=IBINN_PRESETS,
    registered_kind="invertible",
)

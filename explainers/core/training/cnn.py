"""The plain CNN family: black-box classifiers the platform trains for explainers to explain.

Cross-entropy on the K logits, through the one training loop. Two Two4Two variants mirror the classifiers
of Singla et al. (seeds/progressive-exaggeration.txt, section 4.3, Table 3): ``cnn-two4two-biased`` sees the
study sampler, in which the object colour is correlated with the class (the planted bias, like f_Biased);
``cnn-two4two-unbiased`` the unbiased sampler (f_No-biased). ``cnn-two4two-oracle`` is an independent,
wider network on unbiased data with another seed: the feature space of the data-consistency score
(a Frechet distance) and a second opinion that is not the explained classifier.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch.nn.functional as F

from explainers.core.datasets import digits, two4two
from explainers.core.nets.cnn import CNNClassifier, CNNConfig
from explainers.core.nets.glow import NetConfigError

from .config import NetTrainConfig, dataset_splits, preset_with
from .family import ModelFamily

CHECKPOINT_FORMAT = "studyserver.cnn.v1"
DATASETS = ("two4two", "digits")


class CNNTrainingError(ValueError):
    """An invalid CNN training configuration."""


@dataclass(frozen=True)
class CNNTrainConfig(NetTrainConfig):
    """Everything a CNN training run depends on; stored in the checkpoint."""

    net_class: ClassVar[type] = CNNConfig
    error_class: ClassVar[type[Exception]] = CNNTrainingError

    net: CNNConfig = field(default_factory=CNNConfig)
    dataset: str = "two4two"
    sampler: str = "study"  # Two4Two only
    dataset_seed: int = 0
    train_size: int = 6000  # Two4Two only; digits use their fixed split
    val_size: int = 1000    # Two4Two only
    steps: int = 800
    batch_size: int = 64
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    weight_decay: float = 0.0
    seed: int = 0
    eval_every: int = 200
    grad_clip: float = 10.0

    def __post_init__(self) -> None:
        self.check_common()
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) \
                or self.weight_decay < 0:
            raise CNNTrainingError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        if self.dataset not in DATASETS:
            raise CNNTrainingError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset == "digits" and (self.net.num_classes != 10 or self.net.in_channels != 1):
            raise CNNTrainingError("the digits have 10 classes and 1 channel: set num_classes=10, in_channels=1")
        if self.dataset == "two4two":
            if self.net.num_classes != 2 or self.net.in_channels != 3:
                raise CNNTrainingError("Two4Two has 2 classes and 3 channels: set num_classes=2, in_channels=3")
            if self.sampler not in two4two.SAMPLERS:
                raise CNNTrainingError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}")

    def dataset_record(self) -> dict[str, Any]:
        if self.dataset == "digits":
            return {"kind": "digits", "seed": self.dataset_seed, "size": self.image_size, "splits": "stratified",
                    "val_fraction": digits.VAL_FRACTION, "test_fraction": digits.TEST_FRACTION,
                    "class_names": list(digits.CLASS_NAMES)}
        return {"kind": "two4two", "sampler": self.sampler, "seed": self.dataset_seed, "size": self.image_size,
                "train_size": self.train_size, "val_size": self.val_size, "val_seed": self.val_seed,
                "label_noise": 0.0, "class_names": list(two4two.CLASS_NAMES)}


_T4T32 = CNNConfig(image_size=32, in_channels=3, num_classes=2, width=16, blocks=3, feature_dim=64)
_T4T64 = CNNConfig(image_size=64, in_channels=3, num_classes=2, width=24, blocks=4, feature_dim=128)

#: Named configurations. The 32 px Two4Two variants train in a few minutes on 2 CPU cores; the "-64" ones are
#: for a GPU (``train_model --device cuda``); "cnn-tiny" is for tests.
CNN_PRESETS: dict[str, CNNTrainConfig] = {
    "cnn-two4two-biased": CNNTrainConfig(net=_T4T32, sampler="study", steps=600, train_size=6000),
    "cnn-two4two-unbiased": CNNTrainConfig(net=_T4T32, sampler="unbiased", steps=600, train_size=6000),
    "cnn-two4two-oracle": CNNTrainConfig(net=CNNConfig(image_size=32, width=24, blocks=3, feature_dim=128),
                                         sampler="unbiased", dataset_seed=7, seed=7, steps=800, train_size=6000),
    "cnn-two4two-biased-64": CNNTrainConfig(net=_T4T64, sampler="study", steps=1500, train_size=20000,
                                            val_size=2000, batch_size=128),
    "cnn-two4two-unbiased-64": CNNTrainConfig(net=_T4T64, sampler="unbiased", steps=1500, train_size=20000,
                                              val_size=2000, batch_size=128),
    "cnn-two4two-oracle-64": CNNTrainConfig(net=CNNConfig(image_size=64, width=32, blocks=4, feature_dim=128),
                                            sampler="unbiased", dataset_seed=7, seed=7, steps=1500,
                                            train_size=20000, val_size=2000, batch_size=128),
    "cnn-digits": CNNTrainConfig(net=CNNConfig(image_size=16, in_channels=1, num_classes=10, width=16, blocks=2,
                                               feature_dim=64),
                                 dataset="digits", steps=600, batch_size=64),
    "cnn-tiny": CNNTrainConfig(net=CNNConfig(image_size=16, width=4, blocks=2, feature_dim=8),
                               sampler="study", steps=6, batch_size=8, train_size=48, val_size=16,
                               warmup_steps=2, eval_every=1000),
}


def cnn_preset(name: str, **overrides: Any) -> CNNTrainConfig:
    """A named configuration with overrides (``image_size`` goes to the network)."""
    return preset_with(CNN_PRESETS, name, CNNTrainingError, (NetConfigError,), **overrides)


def dataset_arrays(config: CNNTrainConfig, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Train/validation (and, for digits, test) images and labels."""
    return dataset_splits(config, cache_dir)


def _loss(model: CNNClassifier, x, y, config: CNNTrainConfig):
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    if config.weight_decay:
        loss = loss + config.weight_decay * sum((p ** 2).sum() for p in model.parameters() if p.dim() > 1)
    accuracy = float((logits.argmax(1) == y).float().mean())
    return loss, {"cross_entropy": float(loss.detach()), "accuracy": accuracy}


def _eval_sums(model: CNNClassifier, x, y) -> dict[str, float]:
    logits = model(x)
    return {"accuracy": float((logits.argmax(1) == y).sum()),
            "cross_entropy": float(F.cross_entropy(logits, y, reduction="sum"))}


FAMILY = ModelFamily(
    architecture=CNNClassifier.architecture, checkpoint_format=CHECKPOINT_FORMAT, model_class=CNNClassifier,
    config_class=CNNTrainConfig, loss=_loss, eval_sums=_eval_sums, dataset_arrays=dataset_arrays,
    presets=CNN_PRESETS, registered_kind="differentiable",
)

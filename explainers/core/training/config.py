"""What every training configuration shares: the network field, the schedule and their validation."""
from __future__ import annotations

import math
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

#: Validation images come from a stream offset from the training seed, so that they never repeat a training
#: scene; grids find the held-out images of any checkpoint through this convention.
VALIDATION_SEED_OFFSET = 1_000_003


class NetTrainConfig:
    """Mixin of the frozen training-configuration dataclasses (fields ``net``, ``steps``, ``batch_size``,
    ``learning_rate``, ``warmup_steps``, ``seed``, ``eval_every``, ``grad_clip``, ``dataset_seed``).

    Subclasses name their architecture config (``net_class``) and their error type (``error_class``).
    """

    net_class: ClassVar[type]
    error_class: ClassVar[type[Exception]]
    #: Fields that must be positive integers.
    positive_fields: ClassVar[tuple[str, ...]] = ("steps", "batch_size", "train_size", "val_size", "eval_every")

    @property
    def image_size(self) -> int:
        return self.net.image_size

    @property
    def val_seed(self) -> int:
        return self.dataset_seed + VALIDATION_SEED_OFFSET

    def check_common(self) -> None:
        """The checks every family shares; raises ``error_class``."""
        if not isinstance(self.net, self.net_class):
            raise self.error_class(f"net must be a {self.net_class.__name__}")
        for name in self.positive_fields:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise self.error_class(f"{name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0 or not self.grad_clip > 0:
            raise self.error_class("learning_rate and grad_clip must be positive")

    def learning_rate_at(self, step: int) -> float:
        """Linear warm-up, then a cosine decay to 5 % of the base rate."""
        warmup = min(1.0, (step + 1) / max(1, self.warmup_steps))
        progress = min(1.0, step / max(1, self.steps))
        return self.learning_rate * warmup * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["net"] = self.net.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        data = dict(data)
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise cls.error_class(f"unknown training configuration key(s): {', '.join(unknown)}")
        data["net"] = cls.net_class.from_dict(data.get("net", {}))
        return cls(**data)


def preset_with(presets: dict[str, Any], name: str, error_class: type[Exception], net_errors: tuple[type, ...],
                **overrides: Any):
    """A named configuration with overrides (``image_size`` goes to the network; None means "keep")."""
    if name not in presets:
        raise error_class(f"unknown preset {name!r}; choose one of {', '.join(sorted(presets))}")
    config = presets[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    size = overrides.pop("image_size", None)
    try:
        if size is not None:
            config = replace(config, net=replace(config.net, image_size=int(size)))
        return replace(config, **overrides)
    except (TypeError, *net_errors) as exc:
        raise error_class(str(exc)) from exc


def dataset_splits(config, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """``train_``/``val_`` (and, for the digits, ``test_``) ``images``/``labels`` of a configuration with the
    fields ``dataset`` ("two4two" or "digits"), ``sampler``, ``dataset_seed``, ``train_size``, ``val_size``: the
    digits' fixed split, or Two4Two rendered once and cached under ``cache_dir``."""
    from explainers.core.datasets import digits
    from explainers.core.datasets.cache import two4two_splits

    if config.dataset == "digits":
        data = {}
        for split in ("train", "val", "test"):
            data[f"{split}_images"], data[f"{split}_labels"] = digits.load(split, config.image_size,
                                                                           config.dataset_seed)
        return data
    return two4two_splits(sampler=config.sampler, dataset_seed=config.dataset_seed, val_seed=config.val_seed,
                          train_size=config.train_size, val_size=config.val_size, image_size=config.image_size,
                          cache_dir=cache_dir)

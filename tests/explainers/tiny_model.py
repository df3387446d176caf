"""A tiny, briefly trained invertible classifier shared by the explainers tests (16 px, float64)."""
from __future__ import annotations

import copy
import functools

import numpy as np
import torch

from explainers.core.datasets import two4two
from explainers.core.nets import GlowConfig
from explainers.core.training.glow import TrainConfig
from explainers.core.training.loop import train

TINY_NET = GlowConfig(image_size=16, levels=2, steps_per_level=2, hidden_channels=16, head_steps=1)
TINY_TRAIN = TrainConfig(net=TINY_NET, steps=25, batch_size=16, learning_rate=2e-3, warmup_steps=5,
                         train_size=160, val_size=40, eval_every=25)


@functools.lru_cache(maxsize=1)
def _tiny_data() -> dict[str, np.ndarray]:
    images, labels, _ = two4two.sample(200, seed=11, size=16)
    return {"train_images": images[:160], "train_labels": labels[:160],
            "val_images": images[160:], "val_labels": labels[160:]}


@functools.lru_cache(maxsize=1)
def _trained():
    torch.manual_seed(0)
    return train(TINY_TRAIN, data=_tiny_data()).model


def tiny_model(dtype: torch.dtype = torch.float64):
    """A fresh copy (tests may modify it) of the trained tiny model, in eval mode."""
    model = copy.deepcopy(_trained()).to(dtype)
    return model.eval()


def tiny_images(n: int = 8, seed: int = 3) -> np.ndarray:
    return two4two.sample(n, seed=seed, size=16)[0]

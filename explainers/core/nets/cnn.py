"""A plain convolutional classifier: the black box that explainers explain (no invertibility, no latent).

Singla et al., "Explanation by progressive exaggeration" (seeds/progressive-exaggeration.txt, section 4)
explain ordinary CNN classifiers f trained on the data; the platform trains this one on Two4Two (biased and
unbiased samplers, like the paper's f_Biased / f_No-biased) and on digits. ``features(x)`` is the
penultimate representation, used as the feature space of Frechet distances (the data-consistency score).

Inputs follow explainers.core.pixels: float N x C x H x W in [0, 1]. GroupNorm rather than BatchNorm, so a
prediction never depends on the other images of a batch (an explanation row is scored image by image).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .glow import NetConfig, NetConfigError


@dataclass(frozen=True)
class CNNConfig(NetConfig):
    """Architecture of :class:`CNNClassifier`.

    ``blocks`` stages of two 3x3 convolutions, each stage halving the side (stride-2 pooling) and doubling
    the channels from ``width``; then global average pooling and a hidden layer of ``feature_dim`` units
    (the ``features``) before the ``num_classes`` logits. ``image_size`` must be divisible by 2**blocks.
    """

    image_size: int = 32
    in_channels: int = 3
    num_classes: int = 2
    width: int = 16
    blocks: int = 3
    feature_dim: int = 64

    def __post_init__(self) -> None:
        for name in ("image_size", "in_channels", "num_classes", "width", "blocks", "feature_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NetConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.num_classes < 2:
            raise NetConfigError("num_classes must be >= 2")
        if self.image_size % (2 ** self.blocks) != 0:
            raise NetConfigError(f"image_size {self.image_size} must be divisible by 2**blocks = {2 ** self.blocks}")


def _groups(channels: int) -> int:
    return next(g for g in (8, 4, 2, 1) if channels % g == 0)


class CNNClassifier(nn.Module):
    """``forward(x)`` -> logits N x K; ``features(x)`` -> N x feature_dim; ``logit``/``class_logits`` are ``forward``."""

    architecture = "cnn"

    def __init__(self, config: CNNConfig | None = None):
        super().__init__()
        self.config = config or CNNConfig()
        c = self.config
        layers: list[nn.Module] = []
        channels = c.in_channels
        for block in range(c.blocks):
            out = c.width * 2 ** block
            layers += [
                nn.Conv2d(channels, out, 3, padding=1), nn.GroupNorm(_groups(out), out), nn.SiLU(),
                nn.Conv2d(out, out, 3, padding=1), nn.GroupNorm(_groups(out), out), nn.SiLU(),
                nn.AvgPool2d(2),
            ]
            channels = out
        self.body = nn.Sequential(*layers)
        self.hidden = nn.Sequential(nn.Linear(channels, c.feature_dim), nn.SiLU())
        self.head = nn.Linear(c.feature_dim, c.num_classes)

    def _check(self, x: Tensor) -> None:
        c = self.config
        if x.dim() != 4 or x.shape[1:] != (c.in_channels, c.image_size, c.image_size):
            raise NetConfigError(
                f"expected images N x {c.in_channels} x {c.image_size} x {c.image_size}, got {tuple(x.shape)}")

    def features(self, x: Tensor) -> Tensor:
        self._check(x)
        pooled = self.body(x * 2.0 - 1.0).mean(dim=(2, 3))
        return self.hidden(pooled)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def logit(self, x: Tensor) -> Tensor:
        """The K logits (the platform's logit_function reads ``class_logits`` first, so these stay N x K)."""
        return self.forward(x)

    def class_logits(self, x: Tensor) -> Tensor:
        return self.forward(x)

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self.forward(x).argmax(dim=1)

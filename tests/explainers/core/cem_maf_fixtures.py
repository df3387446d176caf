"""Hand-built classifiers, attribute functions and a pixel "generator" whose CEM-MAF answers are checkable."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from explainers.core.methods._attributes import Attribute, AttributeFunctions

SIZE = 16


class RednessClassifier(nn.Module):
    """Class 1 ("Reddish") iff mean red − mean green / 2 exceeds 0.26: linear, so the cheapest flip also removes
    green (what the monotonicity term forbids), and a flat grey (0.5) image is class 0, so a pertinent
    positive needs red pixels."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(20.0, dtype=torch.float64))

    def forward(self, x):
        evidence = self.scale * (x[:, 0].mean((1, 2)) - 0.5 * x[:, 1].mean((1, 2)) - 0.26)
        return torch.stack([-evidence, evidence], dim=1)


class PixelGenerator(nn.Module):
    """A perfect "generator": z is the pixels' logit, D(z) = sigmoid(z); the VAE interface without training."""

    def __init__(self, size: int = SIZE, channels: int = 3):
        super().__init__()
        self.config = SimpleNamespace(image_size=size, in_channels=channels)
        self.anchor = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def encode(self, x):
        z = torch.logit(x.clamp(1e-3, 1 - 1e-3)).flatten(1)
        return z, torch.zeros_like(z)

    def decode(self, z):
        return torch.sigmoid(z + self.anchor).view(-1, self.config.in_channels, self.config.image_size,
                                                   self.config.image_size)


def colour_attributes() -> AttributeFunctions:
    """Redness (more of it towards class 1, less towards class 0) and greenness (more is "added" either way)."""
    attributes = [Attribute("red", ("a less red colour", "a redder colour"), (-1.0, 1.0)),
                  Attribute("green", ("more green", "more green"), (1.0, 1.0))]
    return AttributeFunctions(lambda x: torch.stack([x[:, 0].mean((1, 2)) * 10, x[:, 1].mean((1, 2)) * 10], 1),
                              attributes, ("Bluish", "Reddish"))


def bluish_images(n: int = 3, seed: int = 0) -> np.ndarray:
    """uint8 N×H×W×3 images predicted Bluish: little red, some green, much blue."""
    rng = np.random.default_rng(seed)
    base = np.array([0.3, 0.4, 0.8])
    images = base + rng.uniform(-0.1, 0.1, size=(n, SIZE, SIZE, 3))
    return (images.clip(0, 1) * 255).round().astype(np.uint8)


def half_red_images(n: int = 3, seed: int = 1) -> np.ndarray:
    """uint8 images predicted Reddish: the left half strongly red, the right half blue."""
    rng = np.random.default_rng(seed)
    images = np.empty((n, SIZE, SIZE, 3))
    images[:, :, : SIZE // 2] = [0.95, 0.2, 0.2]
    images[:, :, SIZE // 2:] = [0.2, 0.3, 0.9]
    images += rng.uniform(-0.03, 0.03, size=images.shape)
    return (images.clip(0, 1) * 255).round().astype(np.uint8)

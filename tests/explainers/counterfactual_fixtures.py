"""Hand-built networks for the counterfactual-search tests: every quantity is known in closed form."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from explainers.core.methods import method_config, method_get

# Hundreds of tiny optimisation steps: thread hand-offs would cost more than the arithmetic.
torch.set_num_threads(1)


class Brightness(nn.Module):
    """Two classes: logit of class 1 = scale * (mean of ``weights``-weighted pixels - 0.5); class 0 its negation."""

    def __init__(self, scale: float = 20.0, size: int = 8, channels: int = 3, weights: torch.Tensor | None = None,
                 classes: int = 2):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        mask = torch.ones(channels, size, size) if weights is None else weights
        self.register_buffer("mask", mask / mask.sum())
        self.classes = classes

    def forward(self, x):
        logit = self.scale * ((x * self.mask).flatten(1).sum(1) - 0.5)
        logits = torch.stack([-logit, logit], 1)
        if self.classes > 2:
            logits = torch.cat([logits, torch.full((x.shape[0], self.classes - 2), -50.0)], 1)
        return logits


@dataclass(frozen=True)
class GeneratorConfig:
    image_size: int = 8
    in_channels: int = 3
    latent_dim: int = 2


class GreyGenerator(nn.Module):
    """A VAE stand-in: z_0 sets the grey level sigmoid(z_0) of the whole image; encode inverts it (mu = logit
    of the mean), so the latent is linearly separable for :class:`Brightness` at z_0 = 0."""

    def __init__(self, size: int = 8, channels: int = 3):
        super().__init__()
        self.config = GeneratorConfig(size, channels)
        self.anchor = nn.Parameter(torch.zeros(()))  # a parameter, so the device/dtype probes work

    def encode(self, x):
        mean = x.flatten(1).mean(1).clamp(1e-4, 1 - 1e-4)
        mu = torch.stack([torch.logit(mean), torch.zeros_like(mean)], 1) + self.anchor
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        c, s = self.config.in_channels, self.config.image_size
        return torch.sigmoid(z[:, 0])[:, None, None, None].expand(-1, c, s, s)


def dark_images(n: int = 3, size: int = 8, level: float = 0.3, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (level + 0.05 * torch.rand(n, 3, size, size, generator=generator)).clamp(0, 1)


def method(name: str, **params):
    return method_get(name)(method_config(name, params))

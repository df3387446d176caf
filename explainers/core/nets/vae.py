"""A convolutional variational autoencoder (beta-VAE, optionally DIP-VAE) as the platform's image generator.

Kingma & Welling (2014): an encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))), a decoder x = D(z) and the
evidence lower bound; beta-VAE weighs the KL term by ``beta``. The architecture follows the DIP-VAE table of
CEM-MAF (Luss et al., supplement Table 3: "Conv 32x4x4 (stride 2), 32x4x4 (stride 2), 64x4x4 (stride 2),
64x4x4 (stride 2), FC 256. ReLU activation ... Decoder Deconv reverse of encoder"), scaled by ``width`` and
``levels`` so that 8-64 px images fit.

DIP-VAE (Kumar et al., ICLR 2018, cited as [15] by CEM-MAF: "matching the covariance of the two
distributions which amounts to decorrelating the dimensions of the inferred prior") adds
lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2, where C is
  (i)  the covariance of the encoder means, Cov[mu(x)], over the minibatch, or
  (ii) the covariance of the aggregate posterior, Cov[mu(x)] + E[diag(exp(logvar(x)))].

Images follow explainers.core.pixels: float N×C×H×W in [0, 1]; ``decode`` ends in a sigmoid so that every
generated image is in range.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .glow import NetConfig, NetConfigError

DIP_KINDS = (None, "i", "ii")


@dataclass(frozen=True)
class VAEConfig(NetConfig):
    """Architecture (and the objective's weights, which a VAE checkpoint keeps with its network).

    ``levels`` stride-2 4×4 convolutions halve the image each (channels ``width``·2^(level // 2), as the
    table's 32, 32, 64, 64), then a ``hidden``-unit layer and the ``latent_dim`` Gaussian latents.
    ``beta`` weighs the KL term; ``dip`` = None (beta-VAE), "i" or "ii" adds the DIP-VAE covariance
    penalty with off-diagonal weight ``lambda_od`` and diagonal weight ``lambda_d``.
    """

    image_size: int = 64
    in_channels: int = 3
    latent_dim: int = 32
    width: int = 32
    levels: int = 4
    hidden: int = 256
    beta: float = 1.0
    dip: str | None = None
    lambda_od: float = 10.0
    lambda_d: float = 100.0

    def __post_init__(self) -> None:
        for name in ("image_size", "in_channels", "latent_dim", "width", "levels", "hidden"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NetConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.image_size % (2 ** self.levels) != 0:
            raise NetConfigError(f"image_size {self.image_size} must be divisible by 2**levels = {2 ** self.levels}")
        for name in ("beta", "lambda_od", "lambda_d"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise NetConfigError(f"{name} must be a number >= 0, got {value!r}")
        if self.dip not in DIP_KINDS:
            raise NetConfigError(f"dip must be none, 'i' or 'ii', got {self.dip!r}")

    def channels(self, level: int) -> int:
        return self.width * 2 ** (level // 2)

    @property
    def bottom_size(self) -> int:
        return self.image_size // 2 ** self.levels


class VAE(nn.Module):
    """``encode(x) -> (mu, logvar)``, ``decode(z) -> x`` in [0, 1], ``forward(x) -> (recon, mu, logvar)``.

    ``forward`` samples z by the reparameterisation trick in training mode and decodes the mean in eval
    mode, so that evaluation and explanation methods are deterministic.
    """

    architecture = "conv_vae"

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        previous = config.in_channels
        for level in range(config.levels):
            layers += [nn.Conv2d(previous, config.channels(level), 4, stride=2, padding=1), nn.ReLU()]
            previous = config.channels(level)
        self._bottom = (previous, config.bottom_size, config.bottom_size)
        flat = previous * config.bottom_size ** 2
        self.encoder = nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, config.hidden), nn.ReLU(),
                                     nn.Linear(config.hidden, 2 * config.latent_dim))
        self.decoder_fc = nn.Sequential(nn.Linear(config.latent_dim, config.hidden), nn.ReLU(),
                                        nn.Linear(config.hidden, flat), nn.ReLU())
        layers = []
        for level in reversed(range(config.levels)):
            out = config.in_channels if level == 0 else config.channels(level - 1)
            layers.append(nn.ConvTranspose2d(config.channels(level), out, 4, stride=2, padding=1))
            if level > 0:
                layers.append(nn.ReLU())
        self.decoder_conv = nn.Sequential(*layers)

    def _check(self, x: Tensor) -> None:
        c, s = self.config.in_channels, self.config.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise NetConfigError(f"the VAE expects images N×{c}×{s}×{s}, got {tuple(x.shape)}")

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training

    def decode(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise NetConfigError(f"the VAE decodes latents N×{self.config.latent_dim}, got {tuple(z.shape)}")
        return torch.sigmoid(self.decoder_conv(self.decoder_fc(z).view(-1, *self._bottom)))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decode(z), mu, logvar

    def reconstruct(self, x: Tensor) -> Tensor:
        """D(mu(x)): the deterministic reconstruction used for realism and latent projections."""
        return self.decode(self.encode(x)[0])


def kl_divergence(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per image (N), summed over the latent dimensions."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def dip_covariance(mu: Tensor, logvar: Tensor, kind: str) -> Tensor:
    """The covariance DIP-VAE matches to the identity: (i) Cov[mu], (ii) Cov[mu] + E[diag(sigma^2)]."""
    if kind not in ("i", "ii"):
        raise NetConfigError(f"DIP-VAE kind must be 'i' or 'ii', got {kind!r}")
    centred = mu - mu.mean(dim=0, keepdim=True)
    covariance = centred.T @ centred / max(1, mu.shape[0])
    if kind == "ii":
        covariance = covariance + torch.diag(logvar.exp().mean(dim=0))
    return covariance


def dip_penalty(covariance: Tensor, lambda_od: float, lambda_d: float) -> Tensor:
    """lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2: zero exactly for C = I."""
    diagonal = torch.diagonal(covariance)
    off = covariance - torch.diag(diagonal)
    return lambda_od * off.pow(2).sum() + lambda_d * (diagonal - 1.0).pow(2).sum()

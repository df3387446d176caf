"""A multi-scale Glow flow with a linear classifier on an intermediate layer .

Sixt et al., "Interpretability through invertibility" (seeds/invertibility-ideal-counterfactuals-user-study
.txt, section 2 and appendix A.1): the invertible network phi maps an image x to features z = phi(x); a
linear classifier f(x) = w^T z + b reads them. A counterfactual is x~ = phi^-1(z + alpha w), whose logit
moves by exactly alpha w^T w. The classifier sits before the last flow steps mu ("the final layer's output
is not input to the linear classifier": the N(0, I) prior would give every direction equal variance and
PCA on z nothing to find). mu is trained on the flow objective only; phi on bits/dim plus the weighted
binary cross-entropy. Decoding a counterfactual reuses the variables that earlier levels split off
("they correspond to small details and noise").

Building blocks follow Glow (Kingma & Dhariwal, 2018) as in the reference code (dubfiv/flow.py): each
step is ActNorm -> LU-parameterised invertible 1x1 convolution -> affine coupling with
s = sigmoid(raw) + 0.5; levels squeeze 2x2 into channels and split off half of the channels. The module is
one cohesive thing (the flow's building blocks and the classifier composed of them) and slightly over 400 lines.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class NetConfigError(ValueError):
    """An invalid network configuration or an input of the wrong shape."""


class NetConfig:
    """(De)serialisation shared by the architecture configurations (frozen dataclasses) of every network."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise NetConfigError(f"unknown network configuration key(s): {', '.join(unknown)}")
        return cls(**data)

    def check_shape(self, *, real_fields: tuple[str, ...] = ()) -> None:
        """Every field but ``real_fields`` an integer, levels/steps/channels >= 1, the size divisible by 2**levels."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in real_fields and (not isinstance(value, int) or isinstance(value, bool)):
                raise NetConfigError(f"{f.name} must be an integer, got {value!r}")
        if self.levels < 1 or self.steps_per_level < 1 or self.hidden_channels < 1:
            raise NetConfigError("levels, steps_per_level and hidden_channels must be >= 1")
        if self.image_size % (2 ** self.levels) != 0:
            raise NetConfigError(f"image_size {self.image_size} must be divisible by 2**levels = {2 ** self.levels}")


@dataclass(frozen=True)
class GlowConfig(NetConfig):
    """Architecture of :class:`GlowClassifier`.

    ``levels`` squeeze stages of ``steps_per_level`` flow steps; every level but the last splits off half
    of its channels. The classifier reads the flattened output of the last level
    (``classifier_dim`` = 3 * 2**(levels + 1) * (image_size / 2**levels)**2); ``head_steps`` further flow
    steps (mu) map it to the prior and see only the flow objective.
    """

    image_size: int = 32
    levels: int = 3
    steps_per_level: int = 4
    hidden_channels: int = 64
    head_steps: int = 2
    in_channels: int = 3

    def __post_init__(self) -> None:
        self.check_shape()
        if self.head_steps < 0:
            raise NetConfigError("levels, steps_per_level and hidden_channels must be >= 1, head_steps >= 0")

    @property
    def classifier_shape(self) -> tuple[int, int, int]:
        channels = self.in_channels * 4 * 2 ** (self.levels - 1)
        side = self.image_size // 2 ** self.levels
        return channels, side, side

    @property
    def classifier_dim(self) -> int:
        c, h, w = self.classifier_shape
        return c * h * w


# ------------------------------------------------------------------------------------------- layers

class ActNorm(nn.Module):
    """Per-channel affine map initialised from the first batch to zero mean and unit variance."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    @torch.no_grad()
    def _initialize(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True)
        self.bias.data.copy_(-mean)
        self.log_scale.data.copy_(torch.log(1.0 / (std + 1e-6)))
        self.initialized.fill_(1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not self.initialized and self.training:
            self._initialize(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        logdet = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv1x1(nn.Module):
    """Invertible 1x1 convolution, W = P L (U + diag(sign * exp(log_s))) (Glow's LU parameterisation)."""

    def __init__(self, channels: int):
        super().__init__()
        weight = torch.linalg.qr(torch.randn(channels, channels))[0]
        p, lower, upper = torch.linalg.lu(weight)
        diag = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign", torch.sign(diag))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(diag)))

    def weight(self) -> Tensor:
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign * torch.exp(self.log_s))
        return self.perm @ lower @ upper

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        weight = self.weight()
        y = F.conv2d(x, weight[:, :, None, None])
        logdet = self.log_s.sum() * x.shape[2] * x.shape[3]
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        weight_inv = torch.linalg.inv(self.weight())
        return F.conv2d(y, weight_inv[:, :, None, None])


class ZeroConv2d(nn.Conv2d):
    """A 3x3 convolution initialised to zero so that new couplings start as the identity."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)


class _ActNormNoLogdet(ActNorm):
    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        return super().forward(x)[0]


class AffineCoupling(nn.Module):
    """y_b = s * x_b + t with (raw, t) = NN(x_a) and s = sigmoid(raw) + 0.5 (bounded, as in dubfiv)."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        half = channels // 2
        self.net = nn.Sequential(
            nn.Conv2d(half, hidden, 3, padding=1),
            _ActNormNoLogdet(hidden),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1),
            _ActNormNoLogdet(hidden),
            nn.ReLU(),
            ZeroConv2d(hidden, 2 * (channels - half)),
        )
        self.half = half

    def _scale_shift(self, x_a: Tensor) -> tuple[Tensor, Tensor]:
        raw, shift = self.net(x_a).chunk(2, dim=1)
        return torch.sigmoid(raw) + 0.5, shift

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x_a, x_b = x[:, : self.half], x[:, self.half:]
        scale, shift = self._scale_shift(x_a)
        y_b = scale * x_b + shift
        return torch.cat([x_a, y_b], dim=1), torch.log(scale).flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        y_a, y_b = y[:, : self.half], y[:, self.half:]
        scale, shift = self._scale_shift(y_a)
        return torch.cat([y_a, (y_b - shift) / scale], dim=1)


class FlowStep(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.layers = nn.ModuleList([ActNorm(channels), InvConv1x1(channels), AffineCoupling(channels, hidden)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for layer in self.layers:
            x, step_logdet = layer(x)
            logdet = logdet + step_logdet
        return x, logdet

    def inverse(self, y: Tensor) -> Tensor:
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        return y


def squeeze(x: Tensor) -> Tensor:
    b, c, h, w = x.shape
    x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c * 4, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    b, c, h, w = x.shape
    x = x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c // 4, h * 2, w * 2)


_LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(x: Tensor, mean: Tensor | None = None, log_std: Tensor | None = None) -> Tensor:
    if mean is None:
        return (-0.5 * (_LOG_2PI + x ** 2)).flatten(1).sum(1)
    return (-0.5 * (_LOG_2PI + 2 * log_std + (x - mean) ** 2 * torch.exp(-2 * log_std))).flatten(1).sum(1)


class Level(nn.Module):
    """squeeze -> K flow steps -> (optionally) split off half of the channels under a learned prior."""

    def __init__(self, in_channels: int, steps: int, hidden: int, split: bool):
        super().__init__()
        channels = in_channels * 4
        self.steps = nn.ModuleList([FlowStep(channels, hidden) for _ in range(steps)])
        self.split = split
        self.prior = ZeroConv2d(channels // 2, channels) if split else None

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
        """Returns (kept, split_off or None, logdet, log-prob of split_off under the learned prior)."""
        x = squeeze(x)
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for step in self.steps:
            x, step_logdet = step(x)
            logdet = logdet + step_logdet
        if not self.split:
            return x, None, logdet, torch.zeros_like(logdet)
        kept, off = x.chunk(2, dim=1)
        mean, log_std = self.prior(kept).chunk(2, dim=1)
        return kept, off, logdet, gaussian_log_prob(off, mean, log_std)

    def inverse(self, kept: Tensor, off: Tensor | None) -> Tensor:
        x = kept if off is None else torch.cat([kept, off], dim=1)
        for step in reversed(self.steps):
            x = step.inverse(x)
        return unsqueeze(x)


# ------------------------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Latent:
    """What decoding needs: the classifier features ``z`` (B×D) and the variables earlier levels split off."""

    z: Tensor
    splits: tuple[Tensor, ...]

    def with_z(self, new_z: Tensor) -> "Latent":
        """The same latent with new classifier features (same batch, same split-off variables)."""
        if new_z.shape != self.z.shape:
            raise NetConfigError(f"new z must have shape {tuple(self.z.shape)}, got {tuple(new_z.shape)}")
        return replace(self, z=new_z)

    def repeat_each(self, times: int) -> "Latent":
        """Repeat every sample ``times`` times in a row (rows of counterfactuals of one image)."""
        return Latent(z=self.z.repeat_interleave(times, dim=0),
                      splits=tuple(s.repeat_interleave(times, dim=0) for s in self.splits))

    def select(self, index) -> "Latent":
        return Latent(z=self.z[index], splits=tuple(s[index] for s in self.splits))


@dataclass(frozen=True)
class FlowOutput:
    logit: Tensor        # B
    bits_per_dim: Tensor  # B
    z: Tensor            # B×D classifier features


class GlowClassifier(nn.Module):
    """Glow with a linear binary classifier on the flattened output of its last level (see module doc)."""

    architecture = "glow_linear"

    def __init__(self, config: GlowConfig):
        super().__init__()
        self.config = config
        channels = config.in_channels
        levels = []
        for index in range(config.levels):
            last = index == config.levels - 1
            levels.append(Level(channels, config.steps_per_level, config.hidden_channels, split=not last))
            channels = channels * 4 if last else channels * 2
        self.levels = nn.ModuleList(levels)
        c, _, _ = config.classifier_shape
        self.head = nn.ModuleList([FlowStep(c, config.hidden_channels) for _ in range(config.head_steps)])
        self.classifier = nn.Linear(config.classifier_dim, 1)
        nn.init.normal_(self.classifier.weight, std=1e-3)
        nn.init.zeros_(self.classifier.bias)

    # -- classifier ---------------------------------------------------------------------------------
    @property
    def weight(self) -> Tensor:
        """The classifier's weight vector w (D)."""
        return self.classifier.weight[0]

    @property
    def bias(self) -> Tensor:
        """The classifier's bias b (scalar)."""
        return self.classifier.bias[0]

    def logit_from_z(self, z: Tensor) -> Tensor:
        return z @ self.weight + self.bias

    # -- flow ------------------------------------------------------------------------------------------
    def check_images(self, x: Tensor) -> None:
        size = self.config.image_size
        expected = (self.config.in_channels, size, size)
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != expected:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise NetConfigError(
                f"expected images of shape B×{expected[0]}×{size}×{size} (this model takes {size} px), got {shape}"
            )

    def _forward_levels(self, x: Tensor, capture_level: int | None = None):
        self.check_images(x)
        h = x - 0.5
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        log_prob = torch.zeros_like(logdet)
        splits = []
        captured = None
        for index, level in enumerate(self.levels):
            h, off, level_logdet, off_log_prob = level(h)
            logdet = logdet + level_logdet
            log_prob = log_prob + off_log_prob
            if off is not None:
                splits.append(off)
            if capture_level == index:
                captured = h if off is None else torch.cat([h, off], dim=1)
        return h, tuple(splits), logdet, log_prob, captured

    def encode(self, x: Tensor) -> Latent:
        """phi(x): classifier features and the split-off variables; x is B×3×H×W in [0, 1]."""
        h, splits, _, _, _ = self._forward_levels(x)
        return Latent(z=h.flatten(1), splits=splits)

    def decode(self, latent: Latent) -> Tensor:
        """phi^-1: images (B×3×H×W, roughly [0, 1], not clamped) from classifier features + split-offs."""
        return self._inverse_levels(latent)[0]

    def _inverse_levels(self, latent: Latent, capture_level: int | None = None) -> tuple[Tensor, Tensor | None]:
        if latent.z.dim() != 2 or latent.z.shape[1] != self.config.classifier_dim:
            raise NetConfigError(
                f"z must be B×{self.config.classifier_dim}, got {tuple(latent.z.shape)}"
            )
        if len(latent.splits) != len(self.levels) - 1:
            raise NetConfigError(f"latent has {len(latent.splits)} split-off tensors, expected {len(self.levels) - 1}")
        h = latent.z.view(latent.z.shape[0], *self.config.classifier_shape)
        captured = None
        for index in reversed(range(len(self.levels))):
            off = latent.splits[index] if index < len(latent.splits) else None
            if capture_level == index:
                captured = h if off is None else torch.cat([h, off], dim=1)
            h = self.levels[index].inverse(h, off)
        return h + 0.5, captured

    def features(self, x: Tensor, level: int) -> Tensor:
        """The output of flow level ``level`` (before its split): the feature map h of the seed's saliency."""
        self._check_level(level)
        return self._forward_levels(x, capture_level=level)[4]

    def decode_features(self, latent: Latent, level: int) -> tuple[Tensor, Tensor]:
        """Decode and also return the level-``level`` feature map met on the way down."""
        self._check_level(level)
        return self._inverse_levels(latent, capture_level=level)

    def _check_level(self, level: int) -> None:
        if not isinstance(level, int) or not 0 <= level < len(self.levels):
            raise NetConfigError(f"feature level must be in 0..{len(self.levels) - 1}, got {level!r}")

    def logit(self, x: Tensor) -> Tensor:
        return self.logit_from_z(self.encode(x).z)

    def forward(self, x: Tensor) -> FlowOutput:
        """Logit and bits/dim of dequantised images x (B×3×H×W in [0, 1], 8-bit)."""
        h, _, logdet, log_prob, _ = self._forward_levels(x)
        z = h.flatten(1)
        logit = self.logit_from_z(z)
        for step in self.head:
            h, step_logdet = step(h)
            logdet = logdet + step_logdet
        log_prob = log_prob + gaussian_log_prob(h)
        dims = x[0].numel()
        # 8-bit data: the discrete likelihood is the density times the bin width 1/256.
        nll = -(log_prob + logdet) + dims * math.log(256.0)
        return FlowOutput(logit=logit, bits_per_dim=nll / (dims * math.log(2.0)), z=z)

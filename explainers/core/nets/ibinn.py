"""A class-conditional invertible classifier in the style of IB-INN (plain torch, no Django).

Ardizzone et al., "Training normalizing flows with the information bottleneck for competitive generative
classification" (IB-INN; reference code vislearn/IB-INN, see ../shared/reference/explainers-reference-notes.md,
"(b)") and Hvilshoj et al., ECINN (seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.2): an
invertible network f maps an image x to a latent z = f(x) of the same dimension D; each class y has a unit
Gaussian N(mu_y, 1) in latent space and a learned prior softmax(phi). The class logits are

    l_y(z) = -1/2 ||z - mu_y||^2 + log softmax(phi)_y,

so, independent of the Jacobian, x is assigned to the nearest class mean (ECINN eq. 2). Training trades the
generative against the classification term with beta: loss = 2/(1+beta) L_x - 2 beta/(1+beta) L_y, with
L_x = (-logsumexp_y(l_y(z)) - log|det J|) / D (plus constants) and L_y = log p(y_true | x).

The flow reuses the Glow building blocks of glow.py (ActNorm -> invertible 1x1 conv -> affine coupling with
bounded scales, 2x2 squeezes); unlike the seed's Glow, every split-off variable is part of z (all of z is
class-conditional), and ``dense_steps`` fully connected affine couplings on the whole flattened z mix
global information, as IB-INN's final FC coupling does.

For two classes the log-odds l_1 - l_0 is linear in z: w = mu_1 - mu_0 and
b = -1/2 (||mu_1||^2 - ||mu_0||^2) + log pi_1 - log pi_0. The model therefore also offers the binary
``weight``/``bias``/``logit`` interface of :class:`~explainers.core.nets.glow.GlowClassifier`, so the seed's
methods and the stimulus grids work on a two-class IB-INN unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .glow import FlowStep, Latent, NetConfig, NetConfigError, squeeze, unsqueeze

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class IBINNConfig(NetConfig):
    """Architecture of :class:`IBINNClassifier`.

    ``levels`` squeeze stages of ``steps_per_level`` Glow steps; every level but the last splits off half of
    its channels (they stay in z). ``dense_steps`` fully connected couplings (width ``dense_hidden``) act on
    the whole flattened latent. ``mu_scale`` sets the initial distance between class means (about
    ``mu_scale * sqrt(2)``).
    """

    image_size: int = 16
    in_channels: int = 1
    num_classes: int = 10
    levels: int = 2
    steps_per_level: int = 2
    hidden_channels: int = 32
    dense_steps: int = 2
    dense_hidden: int = 256
    mu_scale: float = 3.0

    def __post_init__(self) -> None:
        if isinstance(self.mu_scale, bool) or not isinstance(self.mu_scale, (int, float)) or not self.mu_scale > 0:
            raise NetConfigError(f"mu_scale must be a positive number, got {self.mu_scale!r}")
        self.check_shape(real_fields=("mu_scale",))
        if self.dense_steps < 0 or self.dense_hidden < 1:
            raise NetConfigError("dense_steps must be >= 0 and dense_hidden >= 1")
        if self.num_classes < 2:
            raise NetConfigError(f"num_classes must be at least 2, got {self.num_classes}")
        if self.in_channels < 1:
            raise NetConfigError(f"in_channels must be >= 1, got {self.in_channels}")

    @property
    def latent_dim(self) -> int:
        return self.in_channels * self.image_size ** 2


class DenseCoupling(nn.Module):
    """A fixed permutation followed by an affine coupling on flat vectors, y_b = s x_b + t, s = sigmoid + 0.5."""

    def __init__(self, dim: int, hidden: int, seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        permutation = torch.randperm(dim, generator=generator)
        self.register_buffer("permutation", permutation)
        self.register_buffer("inverse_permutation", torch.argsort(permutation))
        self.half = dim // 2
        self.net = nn.Sequential(nn.Linear(self.half, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 2 * (dim - self.half)))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, x_a: Tensor) -> tuple[Tensor, Tensor]:
        raw, shift = self.net(x_a).chunk(2, dim=1)
        return torch.sigmoid(raw) + 0.5, shift

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x[:, self.permutation]
        x_a, x_b = x[:, : self.half], x[:, self.half:]
        scale, shift = self._scale_shift(x_a)
        return torch.cat([x_a, scale * x_b + shift], dim=1), torch.log(scale).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        y_a, y_b = y[:, : self.half], y[:, self.half:]
        scale, shift = self._scale_shift(y_a)
        return torch.cat([y_a, (y_b - shift) / scale], dim=1)[:, self.inverse_permutation]


@dataclass(frozen=True)
class IBINNOutput:
    class_logits: Tensor  # B×K
    z: Tensor             # B×D
    logdet: Tensor        # B
    bits_per_dim: Tensor  # B (under the class mixture, 8-bit data)


class IBINNClassifier(nn.Module):
    """Invertible network with class-conditional unit Gaussians in latent space (see module doc)."""

    architecture = "ibinn"
    #: ECINN and other methods check this flag: z carries one Gaussian per class.
    class_conditional = True

    def __init__(self, config: IBINNConfig):
        super().__init__()
        self.config = config
        channels = config.in_channels
        self.level_steps = nn.ModuleList()
        self._shapes: list[tuple[int, int, int]] = []  # shape of what each level contributes to z
        side = config.image_size
        for index in range(config.levels):
            channels, side = channels * 4, side // 2
            self.level_steps.append(nn.ModuleList(
                [FlowStep(channels, config.hidden_channels) for _ in range(config.steps_per_level)]))
            if index < config.levels - 1:
                self._shapes.append((channels // 2, side, side))
                channels //= 2
            else:
                self._shapes.append((channels, side, side))
        dim = config.latent_dim
        self.dense = nn.ModuleList([DenseCoupling(dim, config.dense_hidden, seed=1000 + i)
                                    for i in range(config.dense_steps)])
        generator = torch.Generator().manual_seed(12345)
        self.mu = nn.Parameter(torch.randn(config.num_classes, dim, generator=generator)
                               * config.mu_scale / math.sqrt(dim))
        self.phi = nn.Parameter(torch.zeros(config.num_classes))
        # ECINN's preprocessing (section 3.3): mean training embeddings of the samples *predicted* as each
        # class. Filled by :meth:`fit_predicted_class_means`; zero counts mean "not computed yet".
        self.register_buffer("predicted_class_means", torch.zeros(config.num_classes, dim))
        self.register_buffer("predicted_class_counts", torch.zeros(config.num_classes))

    # -- classes --------------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def class_means(self) -> Tensor:
        """mu (K×D): the means of the class-conditional Gaussians."""
        return self.mu

    def log_prior(self) -> Tensor:
        return torch.log_softmax(self.phi, dim=0)

    def class_logits_from_z(self, z: Tensor) -> Tensor:
        """l_y = -1/2 ||z - mu_y||^2 + log softmax(phi)_y (B×K)."""
        distances = (z[:, None, :] - self.mu[None, :, :]).pow(2).sum(-1)
        return -0.5 * distances + self.log_prior()[None, :]

    def class_logits(self, x: Tensor) -> Tensor:
        return self.class_logits_from_z(self.encode(x).z)

    def predict(self, x: Tensor) -> Tensor:
        return self.class_logits(x).argmax(1)

    @property
    def has_predicted_class_means(self) -> bool:
        return bool((self.predicted_class_counts != 0).all())

    @torch.no_grad()
    def fit_predicted_class_means(self, x_batches) -> Tensor:
        """ECINN's mbar_j: mean of f(x) over training samples the model predicts as j; stored in the model."""
        dim, k = self.config.latent_dim, self.num_classes
        sums = torch.zeros(k, dim, dtype=self.mu.dtype, device=self.mu.device)
        counts = torch.zeros(k, dtype=self.mu.dtype, device=self.mu.device)
        for x in x_batches:
            z = self.encode(x.to(self.mu.device, self.mu.dtype)).z
            predicted = self.class_logits_from_z(z).argmax(1)
            sums.index_add_(0, predicted, z)
            counts += torch.bincount(predicted, minlength=k).to(counts.dtype)
        means = sums / counts.clamp_min(1)[:, None]
        # A class the model never predicts has no mean embedding; its Gaussian mean is the best stand-in.
        empty = counts == 0
        means[empty] = self.mu.detach()[empty]
        self.predicted_class_means.copy_(means)
        # Count -1 marks such a stand-in, so that "computed" stays distinguishable from "never computed" (0).
        self.predicted_class_counts.copy_(torch.where(empty, torch.full_like(counts, -1.0), counts))
        return means

    # -- binary interface shared with GlowClassifier ----------------------------------------------------
    def _require_binary(self) -> None:
        if self.num_classes != 2:
            raise NetConfigError(
                f"this IB-INN has {self.num_classes} classes; the scalar logit/weight/bias interface exists only "
                f"for two classes - use class_logits instead"
            )

    @property
    def weight(self) -> Tensor:
        """w = mu_1 - mu_0: the log-odds l_1 - l_0 is w.z + b (two classes only)."""
        self._require_binary()
        return self.mu[1] - self.mu[0]

    @property
    def bias(self) -> Tensor:
        self._require_binary()
        prior = self.log_prior()
        return -0.5 * (self.mu[1].pow(2).sum() - self.mu[0].pow(2).sum()) + prior[1] - prior[0]

    def logit_from_z(self, z: Tensor) -> Tensor:
        """Log-odds of class 1 against class 0 (two classes only)."""
        return z @ self.weight + self.bias

    def logit(self, x: Tensor) -> Tensor:
        return self.logit_from_z(self.encode(x).z)

    # -- flow -----------------------------------------------------------------------------------------
    def check_images(self, x: Tensor) -> None:
        size, channels = self.config.image_size, self.config.in_channels
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (channels, size, size):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise NetConfigError(
                f"expected images of shape B×{channels}×{size}×{size} (this model takes {size} px), got {shape}")

    def _forward_flow(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.check_images(x)
        h = x - 0.5
        logdet = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        parts = []
        for index, steps in enumerate(self.level_steps):
            h = squeeze(h)
            for step in steps:
                h, step_logdet = step(h)
                logdet = logdet + step_logdet
            if index < len(self.level_steps) - 1:
                h, off = h.chunk(2, dim=1)
                parts.append(off.flatten(1))
        parts.append(h.flatten(1))
        z = torch.cat(parts, dim=1)
        for coupling in self.dense:
            z, step_logdet = coupling(z)
            logdet = logdet + step_logdet
        return z, logdet

    def encode(self, x: Tensor) -> Latent:
        """f(x): the whole latent is z (B×D); nothing is split off."""
        return Latent(z=self._forward_flow(x)[0], splits=())

    def decode(self, latent: Latent | Tensor) -> Tensor:
        """f^-1(z) (B×C×H×W, roughly [0, 1], not clamped); accepts a Latent or z itself."""
        z = latent.z if isinstance(latent, Latent) else latent
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise NetConfigError(f"z must be B×{self.config.latent_dim}, got {tuple(z.shape)}")
        for coupling in reversed(self.dense):
            z = coupling.inverse(z)
        sizes = [c * h * w for c, h, w in self._shapes]
        parts = list(torch.split(z, sizes, dim=1))
        h = None
        for index in reversed(range(len(self.level_steps))):
            shape = self._shapes[index]
            part = parts[index].reshape(z.shape[0], *shape)
            h = part if h is None else torch.cat([h, part], dim=1)
            for step in reversed(self.level_steps[index]):
                h = step.inverse(h)
            h = unsqueeze(h)
        return h + 0.5

    def forward(self, x: Tensor) -> IBINNOutput:
        """Class logits, z, log|det J| and bits/dim under the class mixture of dequantised 8-bit images."""
        z, logdet = self._forward_flow(x)
        logits = self.class_logits_from_z(z)
        dim = z.shape[1]
        log_pz = torch.logsumexp(logits, dim=1) - 0.5 * dim * _LOG_2PI
        nll = -(log_pz + logdet) + dim * math.log(256.0)
        return IBINNOutput(class_logits=logits, z=z, logdet=logdet, bits_per_dim=nll / (dim * math.log(2.0)))


def ib_loss(output: IBINNOutput, labels: Tensor, beta: float) -> tuple[Tensor, dict[str, float]]:
    """IB-INN's loss 2/(1+beta) L_x - 2 beta/(1+beta) L_y (reference notes "(b)").

    L_x = (-logsumexp_y l_y(z) - log|det J|) / D is the per-dimension negative log-likelihood under the
    class mixture (constants dropped); L_y = mean log softmax(l)_y_true.
    """
    dim = output.z.shape[1]
    l_x = (-torch.logsumexp(output.class_logits, dim=1) - output.logdet).mean() / dim
    l_y = -F.cross_entropy(output.class_logits, labels)
    loss = 2.0 / (1.0 + beta) * l_x - 2.0 * beta / (1.0 + beta) * l_y
    return loss, {"l_x": float(l_x.detach()), "l_y": float(l_y.detach())}

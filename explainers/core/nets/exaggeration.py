"""The progressive-exaggeration explainer I_f(x, delta) = G(E(x), c_f(x, delta)) and its discriminator.

Singla et al., "Explanation by progressive exaggeration" (seeds/progressive-exaggeration.txt):

* the posterior f(x) in [0, 1] is cut into ``num_bins`` equal bins (1/delta of section 2.1); the condition
  c_f(x, delta) is the bin index of f(x) + delta (:meth:`ExaggerationNet.condition`);
* the explainer is an encoder E and a generator G whose residual blocks take the condition through
  conditional batch normalisation (eq. 2, appendix A.1: blocks BN-ReLU-Conv3-BN-ReLU-Conv3; the encoder has
  the same blocks, downsampling);
* the discriminator is a projection discriminator (eq. 3: D(x, c) = psi(phi(x)) + r(c | x)) whose
  conditional ratio is ordinal: c is decomposed into num_bins - 1 Frank & Hall binary terms,
  r(c = k | x) = sum_{i < k} v_i^T phi(x) (eq. 4); its blocks are ReLU-Conv3-ReLU-Conv3 with spectral norm.

The explained classifier's identity is kept as a *probe*: its logits on fixed noise images, recorded when
training starts (:meth:`ExaggerationNet.record_classifier`), so asking the explainer to explain another
classifier fails clearly (:meth:`ExaggerationNet.check_classifier`) without trusting file names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from .glow import NetConfig, NetConfigError

#: The explained classifier as a function: images N x C x H x W in [0, 1] -> logits N x K
#: (explainers.core.methods.gradients.logit_function makes one of any supported classifier).
LogitFunction = Callable[[Tensor], Tensor]
#: Probe images that fingerprint the explained classifier, and the tolerance on its logits.
PROBE_IMAGES = 8
PROBE_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ExaggerationConfig(NetConfig):
    """Architecture of :class:`ExaggerationNet`.

    ``levels`` residual blocks halve the side in the encoder (and the discriminator) and double it in the
    generator; channels grow from ``channels`` by 2 per level up to 8x. ``num_bins`` = 1/delta bins of the
    posterior of class ``target_class`` of the explained classifier (``classifier_classes`` logits).
    """

    image_size: int = 32
    in_channels: int = 3
    num_bins: int = 10
    channels: int = 16
    levels: int = 3
    target_class: int = 1
    classifier_classes: int = 2

    def __post_init__(self) -> None:
        for name in ("image_size", "in_channels", "num_bins", "channels", "levels", "classifier_classes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise NetConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.num_bins < 2:
            raise NetConfigError("num_bins must be >= 2 (the posterior range is cut into num_bins bins)")
        if self.classifier_classes < 2:
            raise NetConfigError("classifier_classes must be >= 2")
        if isinstance(self.target_class, bool) or not isinstance(self.target_class, int) \
                or not 0 <= self.target_class < self.classifier_classes:
            raise NetConfigError(f"target_class must be a class index below {self.classifier_classes}, "
                                 f"got {self.target_class!r}")
        if self.image_size % (2 ** self.levels) != 0:
            raise NetConfigError(f"image_size {self.image_size} must be divisible by 2**levels = {2 ** self.levels}")

    def width(self, level: int) -> int:
        return self.channels * min(8, 2 ** level)


# ------------------------------------------------------------------------------------------- blocks

class ConditionalBatchNorm(nn.Module):
    """BatchNorm without its own affine map, followed by a per-condition scale and shift (gamma_c, beta_c).

    Initialised to gamma = 1, beta = 0 for every bin, so it starts as plain batch normalisation."""

    def __init__(self, channels: int, num_conditions: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gamma = nn.Embedding(num_conditions, channels)
        self.beta = nn.Embedding(num_conditions, channels)
        nn.init.ones_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return self.gamma(c)[:, :, None, None] * self.norm(x) + self.beta(c)[:, :, None, None]


class EncoderBlock(nn.Module):
    """BN-ReLU-Conv3-BN-ReLU-Conv3 with a 2x2 average-pooling downsample, plus a 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  nn.BatchNorm2d(c_out), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
                                  nn.AvgPool2d(2))
        self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.AvgPool2d(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.skip(x)


class GeneratorBlock(nn.Module):
    """CBN-ReLU-Up-Conv3-CBN-ReLU-Conv3 (conditional batch norm on the bin), plus an upsampled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, num_conditions: int):
        super().__init__()
        self.norm1 = ConditionalBatchNorm(c_in, num_conditions)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = ConditionalBatchNorm(c_out, num_conditions)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, c)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), c)))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class DiscriminatorBlock(nn.Module):
    """ReLU-Conv3-ReLU-Conv3 (spectrally normalised) with an optional downsample, plus a 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, downsample: bool, first: bool = False):
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = spectral_norm(nn.Conv2d(c_in, c_out, 3, padding=1))
        self.conv2 = spectral_norm(nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = spectral_norm(nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        skip = self.skip(x)
        if self.downsample:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


def ordinal_targets(c: Tensor, num_bins: int) -> Tensor:
    """Frank & Hall: bin c in {0..K-1} as K-1 binary targets y_i = 1[c >= i], i = 1..K-1 (N x (K-1))."""
    thresholds = torch.arange(1, num_bins, device=c.device)
    return (c[:, None] >= thresholds[None, :]).to(torch.float32)


# ------------------------------------------------------------------------------------------- networks

class ExaggerationNet(nn.Module):
    """Encoder, conditional generator and ordinal projection discriminator of one explainer."""

    architecture = "progressive_exaggeration"

    def __init__(self, config: ExaggerationConfig | None = None):
        super().__init__()
        self.config = config or ExaggerationConfig()
        c = self.config
        self.encoder_stem = nn.Conv2d(c.in_channels, c.width(0), 3, padding=1)
        self.encoder_blocks = nn.ModuleList(EncoderBlock(c.width(i), c.width(i + 1)) for i in range(c.levels))
        self.generator_blocks = nn.ModuleList(GeneratorBlock(c.width(i + 1), c.width(i), c.num_bins)
                                              for i in reversed(range(c.levels)))
        self.generator_norm = ConditionalBatchNorm(c.width(0), c.num_bins)
        self.generator_out = nn.Conv2d(c.width(0), c.in_channels, 3, padding=1)
        blocks = [DiscriminatorBlock(c.in_channels, c.width(0), downsample=True, first=True)]
        blocks += [DiscriminatorBlock(c.width(i), c.width(i + 1), downsample=i + 1 < c.levels)
                   for i in range(c.levels)]
        self.discriminator_blocks = nn.Sequential(*blocks)
        features = c.width(c.levels)
        self.psi = spectral_norm(nn.Linear(features, 1))
        # v_1 .. v_{K-1}: one projection vector per Frank & Hall binary term (eq. 4).
        self.ordinal = spectral_norm(nn.Linear(features, c.num_bins - 1, bias=False))
        self.register_buffer("probe_logits", torch.zeros(PROBE_IMAGES, c.classifier_classes))
        self.register_buffer("probe_recorded", torch.tensor(0, dtype=torch.uint8))

    # -- the explainer -----------------------------------------------------------------------------
    def check_images(self, x: Tensor) -> None:
        c = self.config
        expected = (c.in_channels, c.image_size, c.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise NetConfigError(f"this explainer takes {c.image_size}x{c.image_size} px images of shape C x H x W = "
                                 f"{expected}, got {tuple(x.shape)}")

    def encode(self, x: Tensor) -> Tensor:
        """E(x): the embedding (N x C' x s x s) the generator decodes; x in [0, 1]."""
        self.check_images(x)
        h = self.encoder_stem(x * 2.0 - 1.0)
        for block in self.encoder_blocks:
            h = block(h)
        return h

    def decode(self, z: Tensor, c: Tensor) -> Tensor:
        """G(z, c): an image in [0, 1] whose classifier posterior should lie in bin ``c``."""
        h = z
        for block in self.generator_blocks:
            h = block(h, c)
        return torch.sigmoid(self.generator_out(F.relu(self.generator_norm(h, c))))

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return self.decode(self.encode(x), c)

    def condition(self, probability: Tensor, delta: Tensor | float) -> Tensor:
        """c_f(x, delta): the bin index of f(x) + delta, clipped to [0, 1] (section 2.1)."""
        target = (probability + delta).clamp(0.0, 1.0)
        return (target * self.config.num_bins).floor().long().clamp(0, self.config.num_bins - 1)

    def bin_centres(self) -> Tensor:
        return (torch.arange(self.config.num_bins, dtype=torch.float32) + 0.5) / self.config.num_bins

    def posterior(self, forward: LogitFunction, x: Tensor) -> Tensor:
        """f(x) = P(target class | x) of the explained classifier (``forward``: x -> N x K logits)."""
        return torch.softmax(checked_logits(forward, x), dim=1)[:, self.config.target_class]

    # -- the discriminator ---------------------------------------------------------------------------
    def features(self, x: Tensor) -> Tensor:
        """phi(x): the discriminator's feature vector (ReLU, then summed over space)."""
        return F.relu(self.discriminator_blocks(x * 2.0 - 1.0)).sum(dim=(2, 3))

    def discriminate(self, x: Tensor, c: Tensor) -> Tensor:
        """D(x, c) = psi(phi(x)) + sum_{i <= c} v_i^T phi(x)  (eqs. 3-4, Frank & Hall ordinal terms)."""
        phi = self.features(x)
        terms = self.ordinal(phi)  # N x (K-1): v_i^T phi(x)
        return self.psi(phi).squeeze(1) + (ordinal_targets(c, self.config.num_bins) * terms).sum(dim=1)

    def generator_parameters(self) -> list[nn.Parameter]:
        modules = [self.encoder_stem, self.encoder_blocks, self.generator_blocks, self.generator_norm,
                   self.generator_out]
        return [p for m in modules for p in m.parameters()]

    def discriminator_parameters(self) -> list[nn.Parameter]:
        return [p for m in (self.discriminator_blocks, self.psi, self.ordinal) for p in m.parameters()]

    # -- which classifier it explains --------------------------------------------------------------
    def probe_images(self) -> Tensor:
        c = self.config
        generator = torch.Generator().manual_seed(20200426)
        return torch.rand(PROBE_IMAGES, c.in_channels, c.image_size, c.image_size, generator=generator)

    @torch.no_grad()
    def _probe(self, forward: LogitFunction) -> Tensor:
        x = self.probe_images().to(self.probe_logits.device)
        return checked_logits(forward, x).float()

    def record_classifier(self, forward: LogitFunction) -> None:
        """Remember the explained classifier (``forward``: x -> N x K logits) by its logits on the probes."""
        logits = self._probe(forward)
        if logits.shape != self.probe_logits.shape:
            raise NetConfigError(f"the classifier returns {logits.shape[1]} logits; this explainer was built for "
                                 f"{self.config.classifier_classes}")
        self.probe_logits.copy_(logits)
        self.probe_recorded.fill_(1)

    def check_classifier(self, forward: LogitFunction) -> None:
        """NetConfigError unless the classifier ``forward`` gives the recorded logits on the probe images."""
        if not int(self.probe_recorded):
            raise NetConfigError("this explainer records no classifier; it was never trained")
        logits = self._probe(forward)
        if logits.shape != self.probe_logits.shape or \
                (logits - self.probe_logits).abs().max() > PROBE_TOLERANCE * (1 + self.probe_logits.abs().max()):
            raise NetConfigError("this explainer was trained for another classifier: the given classifier's "
                                 "outputs differ from the ones recorded when the explainer was trained")


def checked_logits(forward: LogitFunction, x: Tensor) -> Tensor:
    """``forward(x)``, checked to be N x K logits."""
    logits = forward(x)
    if logits.dim() != 2:
        raise NetConfigError(f"the classifier must return N x K logits, got shape {tuple(logits.shape)}")
    return logits

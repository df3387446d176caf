"""Shared pieces of the explanation methods of the invertible classifier (plain torch, no Django).

Every method class takes its validated ``Config`` and offers ``explain(model, images) -> Explanation``;
``images`` are uint8 N×H×W×3 arrays (as Two4Two renders them) or float tensors N×3×H×W in [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import torch
from torch import Tensor

from .registry import MethodError


@dataclass(frozen=True)
class Explanation:
    """A grid of images: ``images`` N×K×3×H×W (float, [0, 1] after clamping), logits N×K as re-encoded.

    ``rows``/``columns`` hold the method parameters of each row/column (e.g. alpha, target logit,
    principal component); ``maps`` (N×K×H×W) carries saliency maps; ``source_index`` (N×K) the index of
    the input image each cell came from (-1 where none).
    """

    images: Tensor
    logits: Tensor
    rows: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    maps: Tensor | None = None
    source_index: Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def images_to_tensor(images, method: str, *, dtype: torch.dtype, device) -> Tensor:
    """uint8 arrays N×H×W (grey) or N×H×W×C, or float tensors N×C×H×W -> a float N×C×H×W tensor.

    Pixel values are dequantised to the centres of their bins, (v + 0.5) / 256, as in training.
    """
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise MethodError(f"{method}: images must be a uint8 N×H×W or N×H×W×C array, got {images.dtype} "
                              f"{images.shape}")
        x = torch.from_numpy(np.ascontiguousarray(images))
        x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)
        x = (x.to(dtype) + 0.5) / 256.0
    elif isinstance(images, Tensor):
        if images.dim() != 4:
            raise MethodError(f"{method}: image tensors must be N×C×H×W, got {tuple(images.shape)}")
        x = images.to(dtype)
    else:
        raise MethodError(f"{method}: images must be a numpy array or a torch tensor, got {type(images).__name__}")
    if x.shape[0] == 0:
        raise MethodError(f"{method}: no images given")
    return x.to(device)


def as_images(model, images, method: str) -> Tensor:
    """Images in the model's dtype and device (see images_to_tensor); a shape the model does not take fails."""
    parameter = next(model.parameters())
    x = images_to_tensor(images, method, dtype=parameter.dtype, device=parameter.device)
    size = model.config.image_size
    expected = (model.config.in_channels, size, size)
    if tuple(x.shape[1:]) != expected:
        raise MethodError(
            f"{method}: this model takes {size}×{size} px images of shape C×H×W = {expected}, "
            f"got {tuple(x.shape[1:])}"
        )
    return x


def float_tuple(value: Any, name: str, *, allow_empty: bool = False, limit: int = 64) -> tuple[float, ...]:
    """Validate a list of finite numbers (JSON lists arrive as lists; configs store tuples)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValueError(f"{name} must be a list of numbers, got {value!r}")
    items = tuple(value)
    if not items and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if len(items) > limit:
        raise ValueError(f"{name} may hold at most {limit} values, got {len(items)}")
    result = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(float(item)):
            raise ValueError(f"{name} must contain finite numbers, got {item!r}")
        result.append(float(item))
    return tuple(result)


def positive_int(value: Any, name: str, *, maximum: int = 10_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an integer between 1 and {maximum}, got {value!r}")
    return value


def set_logit(model, z: Tensor, targets: Tensor) -> Tensor:
    """z' = z + ((v - logit(z)) / ||w||^2) w: the unique closest point whose logit is exactly v."""
    w = model.weight
    return z + ((targets - model.logit_from_z(z)) / (w @ w))[:, None] * w[None, :]


def decode_batched(model, latent, batch_size: int = 256) -> Tensor:
    outputs = []
    for start in range(0, latent.z.shape[0], batch_size):
        outputs.append(model.decode(latent.select(slice(start, start + batch_size))))
    return torch.cat(outputs)


def logits_batched(model, x: Tensor, batch_size: int = 256) -> Tensor:
    return torch.cat([model.logit(x[start:start + batch_size]) for start in range(0, x.shape[0], batch_size)])


def symmetric_targets(logits, percentiles: Iterable[float] = (33.33, 75.0)) -> list[float]:
    """The study grid's columns [-a2, -a1, 0, a1, a2]: a = percentiles of |logit| (seed study, analysis.py)."""
    values = np.abs(np.asarray(logits, dtype=np.float64))
    if values.size == 0:
        raise MethodError("cannot derive logit targets from no logits")
    magnitudes = [float(np.percentile(values, p)) for p in percentiles]
    return [-m for m in reversed(magnitudes)] + [0.0] + magnitudes


def bin_edges(targets: Iterable[float]) -> np.ndarray:
    """Bin edges between column targets: midpoints, with -inf/+inf at the ends."""
    centres = np.asarray(sorted(targets), dtype=np.float64)
    return np.concatenate([[-np.inf], (centres[1:] + centres[:-1]) / 2, [np.inf]])

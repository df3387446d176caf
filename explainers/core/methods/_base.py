"""Shared pieces of the explanation methods: the Explanation record, input and config checks, batching.

Every method class takes its validated ``Config`` and offers ``explain(model, images) -> Explanation``;
``images`` are uint8 N×H×W×C arrays (as the datasets render them; see explainers.core.pixels) or float
tensors N×C×H×W in [0, 1].
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import torch
from torch import Tensor

from explainers.core import pixels

from .registry import MethodError


@dataclass(frozen=True)
class Explanation:
    """A grid of images: ``images`` N×K×C×H×W (float, [0, 1] after clamping), logits N×K as re-encoded.

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
    """uint8 arrays N×H×W (grey) or N×H×W×C (encoded by explainers.core.pixels), or float tensors N×C×H×W."""
    if isinstance(images, np.ndarray):
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise MethodError(f"{method}: images must be a uint8 N×H×W or N×H×W×C array, got {images.dtype} "
                              f"{images.shape}")
        x = pixels.to_tensor(images, dtype)
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


def int_between(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer between {low} and {high}, got {value!r}")
    return value


def positive_int(value: Any, name: str, *, maximum: int = 10_000) -> int:
    return int_between(value, name, 1, maximum)


def decode_batched(model, latent, batch_size: int = 256) -> Tensor:
    outputs = []
    for start in range(0, latent.z.shape[0], batch_size):
        outputs.append(model.decode(latent.select(slice(start, start + batch_size))))
    return torch.cat(outputs)


def logits_batched(model, x: Tensor, batch_size: int = 256) -> Tensor:
    return torch.cat([model.logit(x[start:start + batch_size]) for start in range(0, x.shape[0], batch_size)])

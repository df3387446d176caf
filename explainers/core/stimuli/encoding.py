"""The images participants see and the model's scores of exactly those images.

Every image shown is 8-bit (explainers.core.pixels decides how tensors become pixels and back); a grid
records the logit of the encoded image, so what a participant sees and what the manifest says about it agree
to the last bit. Heatmaps are drawn on a diverging colour map.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from explainers.core import pixels

ProgressCallback = Callable[[float, str], None]


def pick_device(preferred: str | None = None):
    """CUDA when available (or when asked for), CPU otherwise."""
    import torch

    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def model_input(model, images: np.ndarray, device=None):
    """uint8 images as the model's input tensor (its dtype, on ``device`` or the model's device)."""
    parameter = next(model.parameters())
    return pixels.to_tensor(images, parameter.dtype, device or parameter.device)


def score_images(model, images: np.ndarray, *, batch_size: int, device=None, keep_z: bool = False,
                 progress: ProgressCallback | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Logits (and optionally classifier features z) of uint8 ``images``, batched, as float64 arrays."""
    import torch

    logits, features = [], []
    n = len(images)
    with torch.no_grad():
        for part in batches(n, batch_size):
            latent = model.encode(model_input(model, images[part], device))
            logits.append(model.logit_from_z(latent.z).double().cpu().numpy().reshape(-1))
            if keep_z:
                features.append(latent.z.double().cpu().numpy())
            if progress:
                progress(part.stop / n, "scoring held-out images")
    z = np.concatenate(features) if keep_z else None
    return (np.concatenate(logits) if logits else np.zeros(0)), z


def heatmap_rgb(heat: np.ndarray, scale: float) -> np.ndarray:
    """H×W signed values -> H×W×3 uint8 on a diverging map (blue negative, white 0, red positive)."""
    from matplotlib import colormaps

    normalised = 0.5 + 0.5 * np.clip(heat / max(scale, 1e-12), -1.0, 1.0)
    return (colormaps["RdBu_r"](normalised)[..., :3] * 255).round().astype(np.uint8)

"""The one convention for 8-bit pixels <-> model tensors, shared by training, methods, stimuli and evaluation.

The flows are trained on dequantised 8-bit data (Sixt et al., appendix A.1; Glow's bits/dim): a pixel value v
becomes a sample of U[v/256, (v+1)/256). The deterministic encoding used everywhere else is the centre of that
bin, (v + 0.5)/256 - the mean of what training saw - and decoding is its exact inverse (the bin a value falls
in), so an image written to PNG and read back encodes to exactly the tensor the model was scored on.
"""
from __future__ import annotations

import numpy as np

#: Named in cache keys of stored logits, so that a change of convention can never reuse stale scores.
CONVENTION = "bin-centre-256"
LEVELS = 256


def _channels_first(images: np.ndarray):
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images))
    return x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)


def to_tensor(images: np.ndarray, dtype=None, device=None):
    """uint8 N×H×W (grey) or N×H×W×C -> float N×C×H×W at the centres of the pixel bins, (v + 0.5) / 256."""
    import torch

    x = _channels_first(images).to(dtype or torch.float32)
    x = (x + 0.5) / LEVELS
    return x if device is None else x.to(device)


def dequantize(images: np.ndarray, generator, dtype=None):
    """Training input: (v + u) / 256 with u ~ U[0, 1) per value, drawn from ``generator``."""
    import torch

    x = _channels_first(images).to(dtype or torch.float32)
    return (x + torch.rand(x.shape, generator=generator, dtype=x.dtype)) / LEVELS


def to_uint8(x) -> np.ndarray:
    """float N×C×H×W -> uint8 N×H×W×C (N×H×W for one channel): the pixel bin of each value, clamped.

    The exact inverse of :func:`to_tensor`: ``to_uint8(to_tensor(v)) == v``.
    """
    values = (x.detach() * LEVELS - 0.5).round().clamp(0, LEVELS - 1).to("cpu")
    out = values.permute(0, 2, 3, 1).numpy().astype(np.uint8)
    return out[..., 0] if out.shape[-1] == 1 else out

"""Held-out images of a checkpoint's dataset and their logits, cached across grids.

The held-out images are the checkpoint's validation stream, which training never sees (the seed's baseline
drew from the validation set); Two4Two sampling is prefix-stable, so the first val_size images are exactly
the checkpoint's validation images. Logits are cached per checkpoint sha256 and pixel convention.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError

from explainers.core import pixels
from explainers.core.training.config import VALIDATION_SEED_OFFSET


def grid_cache_dir() -> Path:
    """Held-out images and logits, reused across grids (GRID_CACHE_DIR, default ARTIFACTS_ROOT/grid_cache)."""
    configured = getattr(settings, "GRID_CACHE_DIR", None)
    return Path(configured) if configured else Path(settings.ARTIFACTS_ROOT) / "grid_cache"


def held_out_images(dataset: dict[str, Any], count: int) -> tuple[np.ndarray, int]:
    """(uint8 images, seed of their stream) of the checkpoint's dataset record."""
    from explainers.core.datasets.cache import Two4TwoSpec, two4two_arrays

    if dataset.get("kind", "two4two") != "two4two":
        raise ValidationError(f"grids can only be built for Two4Two checkpoints, not {dataset.get('kind')!r}")
    seed = int(dataset.get("val_seed", int(dataset.get("seed", 0)) + VALIDATION_SEED_OFFSET))
    spec = Two4TwoSpec(dataset.get("sampler", "study"), seed, count, int(dataset.get("size", 64)))
    images, _ = two4two_arrays(spec, grid_cache_dir())
    return images, seed


def held_out_logits(loaded, count: int, *, batch_size: int, device=None) -> tuple[np.ndarray, np.ndarray, int]:
    """(images, logits under ``loaded``'s model, seed): the logits cached per checkpoint sha256."""
    from explainers.core.stimuli.encoding import pick_device, score_images

    images, seed = held_out_images(loaded.dataset, count)
    cache = grid_cache_dir() / f"logits-{loaded.sha256[:20]}-s{seed}-n{count}-{pixels.CONVENTION}.npy"
    if cache.exists():
        return images, np.load(cache), seed
    model = loaded.model
    logits, _ = score_images(model.to(device or pick_device("cpu")), images, batch_size=batch_size)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.stem}.{uuid.uuid4().hex}.tmp.npy")
    np.save(tmp, logits)
    os.replace(tmp, cache)
    return images, logits, seed

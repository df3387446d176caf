"""Rendered Two4Two images on disk, keyed by what determines them (sampler, seed, count, size).

Rendering thousands of scenes takes minutes on a CPU; training, held-out scoring for grids and every model
family reuse the same files. ``sample`` is prefix-stable, but the cache keys on the exact count so that a file
always holds exactly what its name says. Writes are atomic (temporary file, then rename).
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import two4two


@dataclass(frozen=True)
class Two4TwoSpec:
    """``n`` scenes of ``sampler`` drawn from ``seed`` and rendered at ``size`` px."""

    sampler: str
    seed: int
    n: int
    size: int

    @property
    def filename(self) -> str:
        return f"two4two-r{two4two.RENDER_VERSION}-{self.sampler}-s{self.seed}-n{self.n}-{self.size}px.npz"


def two4two_arrays(spec: Two4TwoSpec, cache_dir: Path | str | None = None, *,
                   workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N×H×W×3, labels int64 N) of ``spec``, rendered once (by ``workers`` processes, see
    two4two.render_many) and cached under ``cache_dir``."""
    path = Path(cache_dir) / spec.filename if cache_dir is not None else None
    if path is not None and path.exists():
        try:
            with np.load(path) as data:
                return data["images"], data["labels"]
        except (OSError, ValueError, KeyError):
            path.unlink(missing_ok=True)  # a broken cache file is re-rendered
    images, labels, _ = two4two.sample(spec.n, spec.seed, spec.sampler, spec.size, workers=workers)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp.npz")
        np.savez(tmp, images=images, labels=labels)
        os.replace(tmp, path)
    return images, labels


def two4two_splits(*, sampler: str, dataset_seed: int, val_seed: int, train_size: int, val_size: int,
                   image_size: int, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Two4Two training and validation images and labels (rendered once, cached under ``cache_dir``)."""
    train = two4two_arrays(Two4TwoSpec(sampler, dataset_seed, train_size, image_size), cache_dir)
    val = two4two_arrays(Two4TwoSpec(sampler, val_seed, val_size, image_size), cache_dir)
    return {"train_images": train[0], "train_labels": train[1], "val_images": val[0], "val_labels": val[1]}

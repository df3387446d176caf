"""The 8×8 handwritten digits shipped with scikit-learn, upsampled, with fixed splits (plain numpy, no Django).

ECINN (seeds/ecinn-efficient-counterfactuals-inn.txt, section 4.2) evaluates on MNIST; nothing may be
downloaded here, so the 1,797 digits of ``sklearn.datasets.load_digits`` (bundled with scikit-learn,
values 0-16) stand in. They are upsampled bilinearly to ``size`` pixels so that an invertible network
with two squeeze levels has room to work, and split deterministically (stratified by class, seed 0) into
train / validation / test.
"""
from __future__ import annotations

import functools

import numpy as np

from .image_folder import stratified_split

CLASS_NAMES = tuple(str(d) for d in range(10))
SPLITS = ("train", "val", "test")
#: Fractions of each class in the validation and test splits (the rest is training data).
VAL_FRACTION = 0.1
TEST_FRACTION = 0.2


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float64) / 16.0  # N×8×8 in [0, 1]
    return images, bunch.target.astype(np.int64)


def upsample(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling N×8×8 -> N×size×size (pixel centres aligned, edges clamped)."""
    n, source, _ = images.shape
    if size == source:
        return images.copy()
    coords = (np.arange(size) + 0.5) * source / size - 0.5
    coords = np.clip(coords, 0, source - 1)
    low = np.floor(coords).astype(int)
    high = np.minimum(low + 1, source - 1)
    frac = coords - low
    rows = images[:, low, :] * (1 - frac)[None, :, None] + images[:, high, :] * frac[None, :, None]
    return rows[:, :, low] * (1 - frac)[None, None, :] + rows[:, :, high] * frac[None, None, :]


@functools.lru_cache(maxsize=4)
def _split_indices(seed: int) -> dict[str, np.ndarray]:
    _, labels = _raw()
    return stratified_split(labels, seed, val_fraction=VAL_FRACTION, test_fraction=TEST_FRACTION)


def load(split: str = "train", size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N×size×size, labels int64 N) of one split; the same for the same (split, size, seed)."""
    if split not in SPLITS:
        raise ValueError(f"unknown digits split {split!r}; choose one of {', '.join(SPLITS)}")
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 128:
        raise ValueError(f"size must be an integer between 8 and 128 pixels, got {size!r}")
    images, labels = _raw()
    index = _split_indices(int(seed))[split]
    scaled = upsample(images[index], size)
    return np.clip(np.round(scaled * 255.0), 0, 255).astype(np.uint8), labels[index].copy()


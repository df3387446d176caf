"""Small researcher assets for the tests: a zip of digit images and a tiny CNN exported two ways."""
from __future__ import annotations

import functools
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def example_module():
    """docs/examples/digits_classifier.py, the guide's worked example, as a module."""
    spec = importlib.util.spec_from_file_location("digits_classifier", ROOT / "docs/examples/digits_classifier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def small_digits(per_class: int = 12) -> tuple[np.ndarray, np.ndarray]:
    images, labels = example_module().digit_pixels()
    index = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])
    return images[index], labels[index]


def digits_zip(path: Path, *, extra: dict[str, bytes] | None = None, rows: list[str] | None = None) -> Path:
    """A dataset zip (images/… + labels.csv with an attribute column); ``extra`` adds or replaces members."""
    images, labels = small_digits()
    members = {f"images/d{i:03d}.png": png_bytes(image) for i, image in enumerate(images)}
    table = rows if rows is not None else ["filename,label,writer"] + [
        f"d{i:03d}.png,{label},w{i % 3}" for i, label in enumerate(labels)]
    members["labels.csv"] = ("\n".join(table) + "\n").encode()
    members.update(extra or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@functools.lru_cache(maxsize=1)
def _trained_cnn():
    from explainers.core.datasets.image_folder import stratified_split

    images, labels = small_digits()
    train = stratified_split(labels, 0, val_fraction=0.1, test_fraction=0.2)["train"]  # the import's split
    return example_module().train(images[train], labels[train], epochs=60)


def cnn_files(folder: Path) -> dict[str, Path]:
    """{"export": .pt2, "torchscript": .ts} of the tiny trained CNN (normalised with mean 0.5, std 0.5)."""
    folder.mkdir(parents=True, exist_ok=True)
    example_module().export(_trained_cnn(), folder)
    return {"export": folder / "digits_cnn.pt2", "torchscript": folder / "digits_cnn.ts"}


def wrong_class_count_model(path: Path) -> Path:
    """A TorchScript model with 3 outputs (the digits have 10 classes)."""
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    torch.jit.save(torch.jit.script(network), path)
    return path

"""The researcher guide's worked example: a small CNN on the scikit-learn digits, exported for registration.

Writes into --out:
  digits.zip      the digits as PNG files plus labels.csv (the platform's dataset upload format)
  digits_cnn.pt2  the trained classifier as a torch.export program (Grad-CAM, gradients, LIME)
  digits_cnn.ts   the same classifier as TorchScript (gradients and LIME; TorchScript allows no layer hooks)

The network sees each 8-bit pixel v as the platform feeds it, (v + 0.5) / 256, normalised with mean 0.5 and
standard deviation 0.5: register it with --mean 0.5 --std 0.5. It trains on exactly the training split the
platform makes when the zip is imported with the defaults (seed 0, 10 % validation, 20 % test), so the
accuracy the platform reports on the test split is a held-out accuracy.

    python docs/examples/digits_classifier.py --out work/
"""
from __future__ import annotations

import argparse
import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn

from explainers.core.datasets.image_folder import stratified_split


class DigitsCNN(nn.Module):
    """Two convolutions, 2 × 2 average pooling, a linear layer: 10 logits (8 × 8 grey images)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())
        self.pool = nn.AvgPool2d(2)
        self.classifier = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def digit_pixels() -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N×8×8 images, labels) of the 1,797 digits bundled with scikit-learn."""
    bunch = load_digits()
    return np.clip(np.round(bunch.images * 255 / 16), 0, 255).astype(np.uint8), bunch.target


def write_dataset_zip(images: np.ndarray, labels: np.ndarray, path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        table = io.StringIO()
        writer = csv.writer(table)
        writer.writerow(["filename", "label"])
        for i, (image, label) in enumerate(zip(images, labels)):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="PNG")
            archive.writestr(f"images/digit_{i:04d}.png", buffer.getvalue())
            writer.writerow([f"digit_{i:04d}.png", str(label)])
        archive.writestr("labels.csv", table.getvalue())


def train(images: np.ndarray, labels: np.ndarray, epochs: int, seed: int = 0) -> DigitsCNN:
    torch.manual_seed(seed)
    x = ((torch.from_numpy(images).float()[:, None] + 0.5) / 256 - 0.5) / 0.5
    y = torch.from_numpy(labels).long()
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()


def export(model: DigitsCNN, out: Path) -> None:
    example = torch.zeros(2, 1, 8, 8)
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(model, (example,), dynamic_shapes={"x": {0: batch}})
    torch.export.save(program, out / "digits_cnn.pt2")
    torch.jit.save(torch.jit.script(model), out / "digits_cnn.ts")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=15)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    images, labels = digit_pixels()
    write_dataset_zip(images, labels, args.out / "digits.zip")
    # The platform orders images by file name, which is the order written here.
    train_split = stratified_split(labels, 0, val_fraction=0.1, test_fraction=0.2)["train"]
    export(train(images[train_split], labels[train_split], args.epochs), args.out)
    print(f"wrote {args.out / 'digits.zip'}, {args.out / 'digits_cnn.pt2'} and {args.out / 'digits_cnn.ts'}")


if __name__ == "__main__":
    main()

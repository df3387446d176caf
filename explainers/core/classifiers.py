"""Researchers' trained classifiers: TorchScript archives or ``torch.export`` programs, loaded without pickle.

A model file is recognised by the members of its zip archive before anything is loaded: TorchScript
archives hold ``code/`` and ``constants.pkl`` (read by ``torch.jit.load``, which rebuilds the module from
TorchScript source, not from pickled Python objects), ``torch.export`` archives hold a serialized program
(``torch.export.load``). Anything else, in particular a ``torch.save`` pickle of arbitrary objects, is refused
unread: loading a model file never executes pickled code.

The loaded network is wrapped in :class:`RegisteredClassifier`, which takes images in the platform's pixel
convention (explainers.core.pixels: [0, 1], channels first) and applies the researcher's normalisation
``(x - mean) / std`` inside the graph, so attributions are computed with respect to the image itself.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor, nn

from explainers.core.errors import CheckpointError

TORCHSCRIPT = "torchscript"
EXPORTED = "torch_export"

#: What each model file format lets an explanation method do (see explainers.core.methods.registry).
FORMAT_CAPABILITIES = {
    TORCHSCRIPT: frozenset({"gradients"}),
    # torch.export programs unflatten into ordinary modules, so layer hooks (Grad-CAM) work as well.
    EXPORTED: frozenset({"gradients", "layers"}),
}


def detect_format(path: Path) -> str:
    """TORCHSCRIPT or EXPORTED from the archive's member names; CheckpointError for anything else."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise CheckpointError(
            f"{Path(path).name} is not a TorchScript or torch.export archive ({exc}); save the model with "
            f"torch.jit.save or torch.export.save. Pickled Python objects are never loaded.") from None
    members = {name.split("/", 1)[1] if "/" in name else name for name in names}
    if any(m.startswith("code/") for m in members) and "constants.pkl" in members:
        return TORCHSCRIPT
    if any(m.startswith("models/") and m.endswith(".json") for m in members) or any(
            "serialized_exported_program" in m for m in members):
        return EXPORTED
    raise CheckpointError(
        f"{Path(path).name} is a zip archive but neither a TorchScript module nor a torch.export program "
        f"(a torch.save pickle is refused unread: it could run arbitrary code). Save the model with "
        f"torch.jit.save(torch.jit.script(model)) or torch.export.save(torch.export.export(model, ...)).")


def load_network(path: Path, file_format: str | None = None) -> tuple[nn.Module, str]:
    """(the network on the CPU in eval mode, its format); CheckpointError with a clear message on failure."""
    path = Path(path)
    file_format = file_format or detect_format(path)
    try:
        if file_format == TORCHSCRIPT:
            network = torch.jit.load(str(path), map_location="cpu")
        elif file_format == EXPORTED:
            network = torch.export.unflatten(torch.export.load(str(path)))
        else:
            raise CheckpointError(f"unknown model format {file_format!r}")
    except CheckpointError:
        raise
    except Exception as exc:  # torch raises many types for damaged archives
        raise CheckpointError(f"{path.name} could not be loaded as {file_format}: {exc}") from exc
    return network.eval(), file_format


class RegisteredClassifier(nn.Module):
    """x in [0, 1] (N×C×H×W) -> logits N×K of the wrapped network, after ``(x - mean) / std``."""

    def __init__(self, network: nn.Module, *, mean: Sequence[float], std: Sequence[float],
                 class_names: Sequence[str], file_format: str):
        super().__init__()
        self.network = network
        channels = len(mean)
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, channels, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, channels, 1, 1))
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        self.file_format = file_format
        self.capabilities = FORMAT_CAPABILITIES[file_format]

    def forward(self, x: Tensor) -> Tensor:
        return self.network((x.float() - self.mean) / self.std)

    def find_layer(self, name: str) -> nn.Module:
        """The sub-module ``name`` of the network (as in ``network.named_modules()``)."""
        modules = dict(self.network.named_modules())
        if name not in modules:
            known = ", ".join(n for n in modules if n) or "none"
            raise KeyError(f"the model has no layer {name!r}; its layers are: {known}")
        return modules[name]


@dataclass(frozen=True)
class ModelCheck:
    """What registration found out by running the model once."""

    output_shape: tuple[int, ...]
    predictions: list[int]


def check_classifier(classifier: RegisteredClassifier, x: Tensor) -> ModelCheck:
    """Run one batch; the output must be finite B×K logits with K = the number of class names."""
    try:
        with torch.no_grad():
            out = classifier(x)
    except Exception as exc:
        raise CheckpointError(
            f"the model fails on a batch of {x.shape[0]} images of shape {tuple(x.shape[1:])} (C×H×W): "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}. Check the input size; "
            f"export the model with a dynamic batch dimension.") from exc
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[0] != x.shape[0]:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise CheckpointError(f"the model must return one row of logits per image (B×K); it returned {shape}")
    if out.shape[1] != classifier.num_classes:
        raise CheckpointError(
            f"the model returns {out.shape[1]} logits per image but {classifier.num_classes} class names were "
            f"given ({', '.join(classifier.class_names)})")
    if not torch.isfinite(out).all():
        raise CheckpointError("the model returns non-finite logits (NaN or infinity) on the dataset's images")
    return ModelCheck(tuple(out.shape), out.argmax(1).tolist())


def predict(classifier: nn.Module, x: Tensor, batch_size: int = 256) -> Tensor:
    """Logits of ``x`` in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([classifier(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])

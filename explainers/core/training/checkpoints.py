"""Checkpoint files of every model family: written atomically with a sha256 sidecar, read and verified once.

A payload records its format tag (one per family), architecture, training configuration, dataset record,
metrics, history, step, weights and optimizer state. Reading checks the sidecar's sha256, the format, the
architecture and the weights (strictly), and raises CheckpointError naming the file for every problem.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explainers.core.errors import CheckpointError

from .families import family_of_config, family_of_format, known_formats


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A verified checkpoint: the model in eval mode and what it was trained on."""

    model: torch.nn.Module
    config: Any  # the family's training configuration
    metrics: dict[str, Any]
    dataset: dict[str, Any]
    sha256: str
    path: Path
    step: int
    history: list[dict[str, float]]
    optimizer_state: dict[str, Any] | None = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_save(path: Path | str, *, config, state, metrics: dict[str, Any]) -> str:
    """Write the trained ``state`` (see training.loop.TrainState) atomically plus a ``.sha256`` sidecar."""
    family = family_of_config(config)
    payload = {
        "format": family.checkpoint_format, "architecture": family.architecture, "config": config.to_dict(),
        "dataset": config.dataset_record(), "metrics": metrics, "history": state.history, "step": state.step,
        "state_dict": state.model.state_dict(), "optimizer": state.optimizer.state_dict(),
    }
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def _verified_payload(path: Path) -> tuple[dict[str, Any], str]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    digest = sha256_file(path)
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists():
        text = sidecar.read_text().strip()
        recorded = text.split()[0] if text else ""
        if recorded != digest:
            raise CheckpointError(
                f"checkpoint {path.name} is corrupt or was changed: sha256 {digest[:12]}… does not match "
                f"the recorded {recorded[:12]}…"
            )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt zip archives
        raise CheckpointError(f"checkpoint {path.name} cannot be read (corrupt or truncated file): {exc}") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {path.name} holds a {type(payload).__name__}, not a checkpoint")
    return payload, digest


def checkpoint_read(path: Path | str) -> LoadedCheckpoint:
    """Load and verify a checkpoint file of any known family; every problem raises CheckpointError naming it."""
    path = Path(path)
    payload, digest = _verified_payload(path)
    family = family_of_format(payload.get("format"))
    if family is None:
        expected = " file nor a ".join(known_formats())
        raise CheckpointError(
            f"checkpoint {path.name} is not a {expected} file (found format {payload.get('format')!r})")
    if payload.get("architecture") != family.architecture:
        raise CheckpointError(
            f"checkpoint {path.name} holds architecture {payload.get('architecture')!r}, "
            f"expected {family.architecture!r}"
        )
    try:
        config = family.config_class.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path.name} has an invalid configuration: {exc}") from exc
    model = family.model_class(config.net)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path.name}: the weights do not match the recorded architecture {config.net}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return LoadedCheckpoint(
        model=model.eval(), config=config, metrics=dict(payload.get("metrics", {})),
        dataset=dict(payload.get("dataset", {})), sha256=digest, path=path, step=int(payload.get("step", 0)),
        history=list(payload.get("history", [])), optimizer_state=payload.get("optimizer"),
    )

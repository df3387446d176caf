"""Checkpoints that ship with the project (explainers/checkpoints/), so the demo needs no training.

Each shipped checkpoint ``<name>.pt`` has a ``<name>.json`` beside it: the preset and training command that
reproduce it, its metrics and the sha256 of the file. Loading verifies that sha256 (and the checkpoint's
own sidecar) and that the file was trained with the preset it claims; every mismatch raises
CheckpointError naming the problem - a shipped model is never silently replaced by a fresh one.
"""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import torch

from explainers.core.errors import CheckpointError

from .checkpoints import LoadedCheckpoint, checkpoint_read, sha256_file

#: Where the shipped checkpoints live (inside the installed package).
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "checkpoints"


def shipped_path(name: str, directory: Path | None = None) -> Path:
    return Path(directory or SHIPPED_DIR) / f"{name}.pt"


def shipped_record(name: str, directory: Path | None = None) -> dict[str, Any] | None:
    """The JSON record beside a shipped checkpoint, or None when the project ships no checkpoint ``name``."""
    record_path = Path(directory or SHIPPED_DIR) / f"{name}.json"
    if not record_path.is_file():
        return None
    try:
        return json.loads(record_path.read_text())
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"the record {record_path} of the shipped checkpoint cannot be read: {exc}") from exc


def shipped_load(name: str, *, wanted_config: dict[str, Any] | None = None,
                 directory: Path | None = None) -> LoadedCheckpoint | None:
    """Load and verify the shipped checkpoint ``name``; None when none is shipped under that name.

    ``wanted_config`` (a training configuration's ``to_dict()``) must equal the checkpoint's configuration.
    """
    record = shipped_record(name, directory)
    if record is None:
        return None
    path = shipped_path(name, directory)
    if not path.is_file():
        raise CheckpointError(f"the shipped checkpoint {path} is missing although {path.with_suffix('.json').name} "
                              f"describes it; restore it from the repository or retrain it")
    digest = sha256_file(path)
    if digest != record.get("sha256"):
        raise CheckpointError(
            f"the shipped checkpoint {path.name} has sha256 {digest[:12]}…, but {path.with_suffix('.json').name} "
            f"records {str(record.get('sha256'))[:12]}…: the file is corrupt or was replaced. Restore it from the "
            f"repository, or retrain it with `manage.py demo --retrain`")
    loaded = checkpoint_read(path)
    if wanted_config is not None and loaded.config.to_dict() != wanted_config:
        raise CheckpointError(f"the shipped checkpoint {path.name} was trained with another configuration than "
                              f"the preset {record.get('preset')!r} now defines; retrain it")
    return loaded


def shipped_write(loaded: LoadedCheckpoint, name: str, *, command: str, extra: dict[str, Any] | None = None,
                  directory: Path | None = None, weights_only: bool = True) -> Path:
    """Copy a trained checkpoint into the shipped folder without its optimizer state (weights only, smaller),
    and write its JSON record (preset, command, configuration, metrics, sha256).

    ``weights_only=False`` copies the file byte for byte: needed where another checkpoint records this one's
    sha256 (a progressive-exaggeration explainer records the classifier it was trained for)."""
    folder = Path(directory or SHIPPED_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    if weights_only:
        payload = torch.load(loaded.path, map_location="cpu", weights_only=True)
        payload["optimizer"] = {}
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getvalue()
    else:
        data = Path(loaded.path).read_bytes()
    path = shipped_path(name, folder)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    digest = sha256_file(path)
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    record = {"name": name, "file": path.name, "sha256": digest, "bytes": path.stat().st_size,
              "command": command, "config": loaded.config.to_dict(), "dataset": loaded.dataset,
              "metrics": loaded.metrics, **(extra or {})}
    path.with_suffix(".json").write_text(json.dumps(record, indent=2, default=float) + "\n")
    checkpoint_read(path)  # the copy must load like any checkpoint
    return path

"""Checkpoint files: load and verify (any model family), register as database rows."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from explainers.models import Checkpoint, Dataset

if TYPE_CHECKING:  # pragma: no cover
    from explainers.core.training.checkpoints import LoadedCheckpoint


def artifact_path(path: Path | str) -> Path:
    """``path`` itself when absolute, else under ARTIFACTS_ROOT."""
    path = Path(path)
    return path if path.is_absolute() else Path(settings.ARTIFACTS_ROOT) / path


def checkpoint_load(path: Path | str) -> "LoadedCheckpoint":
    """Load a checkpoint (absolute, or relative to ARTIFACTS_ROOT), verifying its sha256 and architecture.

    Returns an object with ``.model`` (eval mode), ``.config``, ``.metrics``, ``.dataset`` and ``.sha256``;
    raises CheckpointError with a clear message for a missing, corrupt, truncated or mismatched file.
    """
    from explainers.core.training.checkpoints import checkpoint_read

    return checkpoint_read(artifact_path(path))


def json_safe(value: Any) -> Any:
    """Metrics as plain JSON (numpy and torch scalars become floats)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return float(value)


@transaction.atomic
def checkpoint_register(*, path: Path | str, name: str, owner=None) -> Checkpoint:
    """Create (or reuse, by sha256) the Checkpoint row of a verified file, with its Dataset row."""
    loaded = checkpoint_load(path)
    existing = Checkpoint.objects.filter(sha256=loaded.sha256).first()
    if existing is not None:
        return existing
    record = loaded.dataset
    parameters = {k: v for k, v in record.items() if k not in ("kind", "seed")}
    dataset = Dataset.objects.filter(kind=record.get("kind", "two4two"), seed=record.get("seed", 0),
                                     parameters=parameters).first()
    if dataset is None:
        dataset = Dataset(
            name=f"Two4Two {record.get('sampler', '?')} {record.get('size', '?')} px",
            kind=record.get("kind", Dataset.Kind.TWO4TWO), parameters=parameters, seed=record.get("seed", 0),
            # The split names every dataset uses (explainers.services.datasets.SPLITS): the images after the
            # training prefix of the seed's stream are held out from training; no test split is recorded.
            splits={"train": record.get("train_size"), "val": record.get("val_size"), "test": 0},
        )
        dataset.full_clean()
        dataset.save()
    checkpoint = Checkpoint(
        owner=owner, name=name, dataset=dataset, architecture=loaded.model.architecture,
        config=loaded.config.to_dict(), file=str(loaded.path), sha256=loaded.sha256,
        metrics=json_safe(loaded.metrics),
    )
    checkpoint.full_clean()
    checkpoint.save()
    return checkpoint

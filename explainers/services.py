"""Business logic of the explainers app.

Training, checkpoints and the bias audit (explainers core) come first; grid services follow below.
torch is imported inside the functions so that web processes serving participants never load it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from django.conf import settings
from django.db import transaction

from explainers.exceptions import CheckpointError
from explainers.models import Checkpoint, Dataset

if TYPE_CHECKING:  # pragma: no cover
    from explainers.training import LoadedCheckpoint

__all__ = ["CheckpointError", "checkpoint_load", "checkpoint_register", "model_train", "bias_audit_run"]


# ================================================================================= explainers core ===

def _resolve(path: Path | str) -> Path:
    path = Path(path)
    return path if path.is_absolute() else Path(settings.ARTIFACTS_ROOT) / path


def checkpoint_load(path: Path | str) -> "LoadedCheckpoint":
    """Load a checkpoint (absolute, or relative to ARTIFACTS_ROOT), verifying its sha256 and architecture.

    Returns an object with ``.model`` (eval mode), ``.config``, ``.metrics``, ``.dataset`` and ``.sha256``;
    raises CheckpointError with a clear message for a missing, corrupt, truncated or mismatched file.
    """
    from explainers.training import checkpoint_read

    return checkpoint_read(_resolve(path))


def model_train(*, out: Path | str, preset: str = "demo", image_size: int | None = None, steps: int | None = None,
                sampler: str | None = None, dataset_seed: int | None = None, seed: int | None = None,
                resume: bool = False, num_threads: int | None = None,
                progress: Callable[[int, int, dict[str, float]], None] | None = None) -> "LoadedCheckpoint":
    """Train the invertible classifier on Two4Two and write a verified checkpoint to ``out``.

    ``preset`` picks the configuration ("demo" or "quick", see explainers.training.PRESETS); the other
    arguments override it. Rendered data is cached under ARTIFACTS_ROOT/datasets.
    """
    import torch

    from explainers.training import preset as training_preset
    from explainers.training import train_to_checkpoint

    config = training_preset(preset, image_size=image_size, steps=steps, sampler=sampler,
                             dataset_seed=dataset_seed, seed=seed)
    if num_threads:
        torch.set_num_threads(num_threads)
    return train_to_checkpoint(config, _resolve(out), resume=resume,
                               cache_dir=Path(settings.ARTIFACTS_ROOT) / "datasets",
                               progress=progress, num_threads=num_threads)


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
            splits={"train": record.get("train_size"), "validation": record.get("val_size")},
        )
        dataset.full_clean()
        dataset.save()
    checkpoint = Checkpoint(
        owner=owner, name=name, dataset=dataset, architecture=loaded.model.architecture,
        config=loaded.config.to_dict(), file=str(loaded.path), sha256=loaded.sha256,
        metrics=_json_safe(loaded.metrics),
    )
    checkpoint.full_clean()
    checkpoint.save()
    return checkpoint


def bias_audit_run(*, path: Path | str, n_test: int = 1000, n_regression: int = 3000, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The seed's Table 3 and the ideal-counterfactual check for a checkpoint (see explainers.audit)."""
    from explainers.audit import audit_checkpoint

    loaded = checkpoint_load(path)
    report = audit_checkpoint(loaded, n_test=n_test, n_regression=n_regression, seed=seed, progress=progress)
    report["checkpoint"] = {"path": str(loaded.path), "sha256": loaded.sha256, "metrics": _json_safe(loaded.metrics)}
    return report


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return float(value)

# ============================================================================ end of explainers core ===

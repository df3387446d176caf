"""Training a model family into a verified checkpoint file; rendered data is cached under ARTIFACTS_ROOT."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from django.conf import settings

from explainers.services.checkpoints import artifact_path

if TYPE_CHECKING:  # pragma: no cover
    from explainers.core.training.checkpoints import LoadedCheckpoint

Progress = Callable[[int, int, dict[str, float]], None]


def _train(config, out: Path | str, *, resume: bool, progress: Progress | None,
           num_threads: int | None, device: str | None = "cpu") -> "LoadedCheckpoint":
    import torch

    from explainers.core.training.run import train_to_checkpoint

    if num_threads:
        torch.set_num_threads(num_threads)
    return train_to_checkpoint(config, artifact_path(out), resume=resume,
                               cache_dir=Path(settings.ARTIFACTS_ROOT) / "datasets", progress=progress,
                               num_threads=num_threads, device=device)


def model_train(*, out: Path | str, preset: str = "demo", image_size: int | None = None, steps: int | None = None,
                sampler: str | None = None, dataset_seed: int | None = None, seed: int | None = None,
                train_size: int | None = None, val_size: int | None = None, resume: bool = False,
                num_threads: int | None = None, progress: Progress | None = None,
                device: str | None = "cpu", dataset: str | None = None) -> "LoadedCheckpoint":
    """Train the preset of any model family (Glow, IB-INN, CNN, ...; see
    explainers.core.training.families.all_presets) and write ``out``.

    The other arguments override the preset (None keeps its value; a setting the family lacks, e.g. a
    sampler for digits, is refused). ``device``: "cpu", "cuda" or "auto" (CUDA when present).
    """
    from explainers.core.training.families import preset_config

    config = preset_config(preset, image_size=image_size, steps=steps, sampler=sampler, dataset=dataset,
                           dataset_seed=dataset_seed, seed=seed, train_size=train_size, val_size=val_size)
    return _train(config, out, resume=resume, progress=progress, num_threads=num_threads, device=device)


def ibinn_model_train(*, out: Path | str, preset: str = "digits", image_size: int | None = None,
                      steps: int | None = None, beta: float | None = None, train_size: int | None = None,
                      seed: int | None = None, num_threads: int | None = None,
                      progress: Progress | None = None) -> "LoadedCheckpoint":
    """Train the class-conditional IB-INN classifier that ECINN explains (digits or Two4Two), write ``out``."""
    from explainers.core.training.ibinn import ibinn_preset

    config = ibinn_preset(preset, steps=steps, image_size=image_size, beta=beta, train_size=train_size, seed=seed)
    return _train(config, out, resume=False, progress=progress, num_threads=num_threads)

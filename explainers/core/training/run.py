"""Train a configuration of any model family into a verified checkpoint file (or resume one)."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from explainers.core.errors import CheckpointError

from .checkpoints import LoadedCheckpoint, checkpoint_read, checkpoint_save
from .families import family_of_config
from .loop import Progress, TrainState, evaluate, resolve_device, train


def _resumed_state(config, out: Path) -> TrainState:
    loaded = checkpoint_read(out)
    if type(loaded.config) is not type(config) or loaded.config.net != config.net:
        raise CheckpointError(f"cannot resume {out.name}: it was trained with {loaded.config.net}, not {config.net}")
    optimizer = torch.optim.Adam(loaded.model.parameters(), lr=config.learning_rate)
    if loaded.optimizer_state:
        optimizer.load_state_dict(loaded.optimizer_state)
    loaded.model.train()
    return TrainState(model=loaded.model, optimizer=optimizer, step=loaded.step, history=loaded.history)


def train_to_checkpoint(config, out: Path | str, *, resume: bool = False, cache_dir: Path | None = None,
                        progress: Progress | None = None, num_threads: int | None = None,
                        device: str | None = "cpu") -> LoadedCheckpoint:
    """Load the data, train (or resume from ``out``) on ``device`` ("auto": CUDA when present), evaluate
    (validation and any test split), write ``out``."""
    family = family_of_config(config)
    out = Path(out)
    resolved = resolve_device(device)
    state = _resumed_state(config, out) if resume and out.exists() else None
    started = time.perf_counter()
    data = family.dataset_arrays(config, cache_dir)
    data_seconds = time.perf_counter() - started
    state = train(config, data=data, state=state, progress=progress, device=resolved)
    seconds = time.perf_counter() - started
    metrics = evaluate(state.model, data["val_images"], data["val_labels"])
    if "test_images" in data:
        metrics.update(evaluate(state.model, data["test_images"], data["test_labels"], prefix="test"))
    metrics.update({"steps": state.step, "seconds": round(seconds, 1), "data_seconds": round(data_seconds, 1),
                    "torch_threads": num_threads or torch.get_num_threads(), "device": resolved.type})
    if family.extra_metrics is not None:
        metrics.update(family.extra_metrics(config))
    checkpoint_save(out, config=config, state=state, metrics=metrics)
    return checkpoint_read(out)

"""The one training loop of every invertible classifier (plain torch).

Adam with a warm-up/cosine schedule, gradient clipping, random minibatches of dequantised 8-bit images
(explainers.core.pixels) and a running average of the family's metrics; validation every ``eval_every`` steps.
Deterministic for a configuration's seed, and resumable from any step: the minibatch stream is seeded by
(seed, step). Runs on any torch device (``resolve_device``: CUDA when present); minibatches are drawn on the
CPU, so a run's data order does not depend on the device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from explainers.core import pixels

from .families import family_of_config, family_of_model

Progress = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainState:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    step: int
    history: list[dict[str, float]]


def resolve_device(device: str | None = None) -> torch.device:
    """``None``/"auto": CUDA when present, else the CPU; otherwise the named device, checked to exist."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown torch device {device!r}: {exc}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but this torch build sees no CUDA device")
    return resolved


def _optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move Adam's moment estimates along with the parameters (a resumed run may change device)."""
    for per_parameter in optimizer.state.values():
        for key, value in per_parameter.items():
            if isinstance(value, torch.Tensor) and key != "step":
                per_parameter[key] = value.to(device)


def build_model(config, seed: int | None = None) -> torch.nn.Module:
    """A freshly initialised network of ``config``'s family, seeded by ``seed`` (default: the config's)."""
    family = family_of_config(config)
    torch.manual_seed(config.seed if seed is None else seed)
    return family.model_class(config.net)


def _labels(labels: np.ndarray, family, dtype: torch.dtype) -> torch.Tensor:
    """Class indices, or (for a binary family with float targets) floats in the model's dtype."""
    y = torch.from_numpy(labels.astype(family.label_dtype))
    return y.to(dtype) if y.is_floating_point() else y


@torch.no_grad()
def evaluate(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 250, seed: int = 0,
             prefix: str = "val") -> dict[str, float]:
    """The family's metrics averaged over ``images`` (with fixed dequantisation noise), named ``prefix_*``."""
    family = family_of_model(model)
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    parameter = next(model.parameters())
    dtype, device = parameter.dtype, parameter.device
    sums: dict[str, float] = {}
    for start in range(0, len(images), batch_size):
        x = pixels.dequantize(images[start:start + batch_size], generator).to(device=device, dtype=dtype)
        y = _labels(labels[start:start + batch_size], family, dtype).to(device)
        for key, value in family.eval_sums(model, x, y).items():
            sums[key] = sums.get(key, 0.0) + value
    model.train(was_training)
    n = max(1, len(images))
    return {f"{prefix}_{key}": value / n for key, value in sums.items()}


def train(config, *, data: dict[str, np.ndarray], state: TrainState | None = None,
          progress: Progress | None = None, device: str | torch.device | None = "cpu") -> TrainState:
    """Train until ``config.steps`` on ``device``; ``state`` resumes an earlier run. The model (and the
    optimizer state) end on the CPU, where the family's ``finish``, evaluation and checkpoints work."""
    family = family_of_config(config)
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    if state is None:
        model = build_model(config).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        state = TrainState(model=model, optimizer=optimizer, step=0, history=[])
    model, optimizer = state.model.to(device), state.optimizer
    _optimizer_to(optimizer, device)
    model.train()
    images, labels = data["train_images"], data["train_labels"]
    if family.prepare_labels is not None:
        labels = family.prepare_labels(config, labels)
    n = len(images)
    rng = np.random.default_rng([config.seed, state.step])
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)
    dtype = next(model.parameters()).dtype
    running: dict[str, float] = {}
    while state.step < config.steps:
        index = rng.integers(0, n, size=config.batch_size)
        x = pixels.dequantize(images[index], generator).to(device=device, dtype=dtype)
        y = _labels(labels[index], family, dtype).to(device)
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate_at(state.step)
        loss, batch_metrics = family.loss(model, x, y, config)
        if not torch.isfinite(loss):
            raise config.error_class(f"training diverged at step {state.step} (loss {float(loss)})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        state.step += 1
        for key, value in batch_metrics.items():
            running[key] = value if key not in running else 0.95 * running[key] + 0.05 * value
        metrics = dict(running)
        if state.step % config.eval_every == 0 or state.step == config.steps:
            metrics.update(evaluate(model, data["val_images"], data["val_labels"]))
            state.history.append({"step": state.step, **metrics})
        if progress is not None:
            progress(state.step, config.steps, metrics)
    model.eval().to("cpu")
    _optimizer_to(optimizer, torch.device("cpu"))
    if family.finish is not None:
        family.finish(model, images)
    return state

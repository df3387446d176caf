"""Training and checkpoint files of the IB-INN style classifier (plain torch, no Django).

Loss (IB-INN, reference notes "(b)"): 2/(1+beta) L_x - 2 beta/(1+beta) L_y, see explainers.nets.ibinn.
The reference trains with SGD (lr 0.07) for many epochs; on the 2-core CPU budget we use Adam with the same
warm-up/cosine schedule as the Glow training (explainers.training) and beta = 1, which the ECINN paper
reports as a good balance ("values close to one", section 4). After training, ECINN's one-off
preprocessing - the mean embedding of the training samples predicted as each class - is computed and
stored in the checkpoint, so explaining never needs the training set again.

Checkpoints use their own format tag (``studyserver.ibinn.v1``) with the same verification as the Glow
checkpoints (sha256 sidecar, architecture, strict weights); ``explainers.services.checkpoint_load``
dispatches to :func:`ibinn_checkpoint_read` for them.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch

from explainers.exceptions import CheckpointError
from explainers.nets.glow import NetConfigError
from explainers.nets.ibinn import IBINNClassifier, IBINNConfig, ib_loss
from explainers.training import LoadedCheckpoint, NetTrainConfig, payload_model, payload_read, payload_write

IBINN_CHECKPOINT_FORMAT = "studyserver.ibinn.v1"
DATASETS = ("digits", "two4two")


class IBINNTrainingError(ValueError):
    """An invalid IB-INN training configuration."""


@dataclass(frozen=True)
class IBINNTrainConfig(NetTrainConfig):
    """Everything an IB-INN training run depends on; stored in the checkpoint."""

    net_class: ClassVar[type] = IBINNConfig
    error_class: ClassVar[type[Exception]] = IBINNTrainingError

    net: IBINNConfig = field(default_factory=IBINNConfig)
    dataset: str = "digits"
    sampler: str = "study"  # Two4Two only
    dataset_seed: int = 0
    train_size: int = 5000  # Two4Two only; digits use their fixed split
    val_size: int = 500     # Two4Two only
    steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    beta: float = 1.0
    seed: int = 0
    eval_every: int = 250
    grad_clip: float = 50.0

    def __post_init__(self) -> None:
        if not isinstance(self.net, IBINNConfig):
            raise IBINNTrainingError("net must be an IBINNConfig")
        for name in ("steps", "batch_size", "train_size", "val_size", "eval_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise IBINNTrainingError(f"{name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0 or not self.grad_clip > 0:
            raise IBINNTrainingError("learning_rate and grad_clip must be positive")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not self.beta > 0:
            raise IBINNTrainingError(f"beta must be a positive number, got {self.beta!r}")
        if self.dataset not in DATASETS:
            raise IBINNTrainingError(f"unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}")
        if self.dataset == "digits" and (self.net.num_classes != 10 or self.net.in_channels != 1):
            raise IBINNTrainingError("the digits have 10 classes and 1 channel: set num_classes=10, in_channels=1")
        if self.dataset == "two4two":
            from explainers.datasets import two4two

            if self.net.num_classes != 2 or self.net.in_channels != 3:
                raise IBINNTrainingError("Two4Two has 2 classes and 3 channels: set num_classes=2, in_channels=3")
            if self.sampler not in two4two.SAMPLERS:
                raise IBINNTrainingError(
                    f"unknown sampler {self.sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}")

    def dataset_record(self) -> dict[str, Any]:
        if self.dataset == "digits":
            from explainers.datasets import digits

            return {"kind": "digits", "seed": self.dataset_seed, "size": self.image_size, "splits": "stratified",
                    "val_fraction": digits.VAL_FRACTION, "test_fraction": digits.TEST_FRACTION,
                    "class_names": list(digits.CLASS_NAMES)}
        return {"kind": "two4two", "sampler": self.sampler, "seed": self.dataset_seed, "size": self.image_size,
                "train_size": self.train_size, "val_size": self.val_size, "val_seed": self.val_seed,
                "label_noise": 0.0}


#: "digits": 10-class sklearn digits at 16 px; "two4two": Two4Two at 32 px; "*-quick": tiny, for tests.
IBINN_PRESETS: dict[str, IBINNTrainConfig] = {
    "digits": IBINNTrainConfig(net=IBINNConfig(image_size=16, in_channels=1, num_classes=10, levels=2,
                                               steps_per_level=3, hidden_channels=32, dense_steps=2,
                                               dense_hidden=256),
                               dataset="digits", steps=1200, batch_size=64, learning_rate=2e-3),
    "digits-quick": IBINNTrainConfig(net=IBINNConfig(image_size=16, in_channels=1, num_classes=10, levels=2,
                                                     steps_per_level=1, hidden_channels=16, dense_steps=2,
                                                     dense_hidden=128),
                                     dataset="digits", steps=300, batch_size=64, learning_rate=3e-3,
                                     warmup_steps=20, eval_every=100),
    "two4two": IBINNTrainConfig(net=IBINNConfig(image_size=32, in_channels=3, num_classes=2, levels=3,
                                                steps_per_level=2, hidden_channels=32, dense_steps=2,
                                                dense_hidden=256),
                                dataset="two4two", steps=1200, batch_size=32, learning_rate=1e-3,
                                train_size=4000, val_size=500),
    "two4two-quick": IBINNTrainConfig(net=IBINNConfig(image_size=16, in_channels=3, num_classes=2, levels=2,
                                                      steps_per_level=1, hidden_channels=8, dense_steps=1,
                                                      dense_hidden=64),
                                      dataset="two4two", steps=40, batch_size=16, learning_rate=2e-3,
                                      warmup_steps=5, train_size=192, val_size=200, eval_every=1000),
}


def ibinn_preset(name: str, **overrides: Any) -> IBINNTrainConfig:
    """A named configuration with overrides (``image_size`` goes to the network)."""
    if name not in IBINN_PRESETS:
        raise IBINNTrainingError(f"unknown preset {name!r}; choose one of {', '.join(sorted(IBINN_PRESETS))}")
    config = IBINN_PRESETS[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    size = overrides.pop("image_size", None)
    try:
        if size is not None:
            config = replace(config, net=replace(config.net, image_size=int(size)))
        return replace(config, **overrides)
    except (TypeError, NetConfigError) as exc:
        raise IBINNTrainingError(str(exc)) from exc


# ----------------------------------------------------------------------------------------------- data

def images_to_tensor(images: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 N×H×W (grey) or N×H×W×C -> float N×C×H×W in [0, 1] at pixel centres ((v + 0.5) / 256)."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)
    return (x.to(dtype) + 0.5) / 256.0


def _dequantize(images: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(images))
    x = (x[:, None] if x.dim() == 3 else x.permute(0, 3, 1, 2)).float()
    return (x + torch.rand(x.shape, generator=generator)) / 256.0


def ibinn_dataset_arrays(config: IBINNTrainConfig, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Train/validation (and, for digits, test) images and labels."""
    if config.dataset == "digits":
        from explainers.datasets import digits

        data = {}
        for split in ("train", "val", "test"):
            data[f"{split}_images"], data[f"{split}_labels"] = digits.load(split, config.image_size,
                                                                           config.dataset_seed)
        return data
    # Two4Two: the explainers core renders and caches it (same streams as the Glow checkpoints).
    from explainers.nets.glow import GlowConfig
    from explainers.training import TrainConfig, dataset_arrays

    levels = max(1, int(math.log2(config.image_size)) - 2)
    glow_view = TrainConfig(net=GlowConfig(image_size=config.image_size, levels=min(levels, 3)),
                            sampler=config.sampler, dataset_seed=config.dataset_seed,
                            train_size=config.train_size, val_size=config.val_size)
    return dataset_arrays(glow_view, cache_dir)


# --------------------------------------------------------------------------------------------- training

@dataclass
class IBINNTrainState:
    model: IBINNClassifier
    optimizer: torch.optim.Optimizer
    step: int
    history: list[dict[str, float]]


def _learning_rate(config: IBINNTrainConfig, step: int) -> float:
    warmup = min(1.0, (step + 1) / max(1, config.warmup_steps))
    progress = min(1.0, step / max(1, config.steps))
    return config.learning_rate * warmup * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def ibinn_evaluate(model: IBINNClassifier, images: np.ndarray, labels: np.ndarray, batch_size: int = 250,
                   seed: int = 0, prefix: str = "val") -> dict[str, float]:
    """Accuracy, cross-entropy and bits/dim (fixed dequantisation noise)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct, ce, bpd = 0.0, 0.0, 0.0
    dtype = next(model.parameters()).dtype
    for start in range(0, len(images), batch_size):
        x = _dequantize(images[start:start + batch_size], generator).to(dtype)
        y = torch.from_numpy(labels[start:start + batch_size])
        out = model(x)
        correct += float((out.class_logits.argmax(1) == y).sum())
        ce += float(torch.nn.functional.cross_entropy(out.class_logits, y, reduction="sum"))
        bpd += float(out.bits_per_dim.sum())
    model.train(was_training)
    n = max(1, len(images))
    return {f"{prefix}_accuracy": correct / n, f"{prefix}_cross_entropy": ce / n, f"{prefix}_bits_per_dim": bpd / n}


def ibinn_train(config: IBINNTrainConfig, *, data: dict[str, np.ndarray], state: IBINNTrainState | None = None,
                progress: Callable[[int, int, dict[str, float]], None] | None = None) -> IBINNTrainState:
    """Train until ``config.steps`` (deterministic for the seed), then store ECINN's predicted-class means."""
    if state is None:
        torch.manual_seed(config.seed)
        model = IBINNClassifier(config.net)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        state = IBINNTrainState(model=model, optimizer=optimizer, step=0, history=[])
    model, optimizer = state.model, state.optimizer
    model.train()
    images, labels = data["train_images"], data["train_labels"]
    n = len(images)
    rng = np.random.default_rng([config.seed, state.step])
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)
    running: dict[str, float] = {}
    dtype = next(model.parameters()).dtype
    while state.step < config.steps:
        index = rng.integers(0, n, size=config.batch_size)
        x = _dequantize(images[index], generator).to(dtype)
        y = torch.from_numpy(labels[index])
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, state.step)
        out = model(x)
        loss, parts = ib_loss(out, y, config.beta)
        if not torch.isfinite(loss):
            raise IBINNTrainingError(f"training diverged at step {state.step} (loss {float(loss)})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        state.step += 1
        accuracy = float((out.class_logits.argmax(1) == y).float().mean())
        for key, value in (("loss", float(loss.detach())), ("bits_per_dim", float(out.bits_per_dim.detach().mean())),
                           ("accuracy", accuracy), *parts.items()):
            running[key] = value if key not in running else 0.95 * running[key] + 0.05 * value
        metrics = dict(running)
        if state.step % config.eval_every == 0 or state.step == config.steps:
            metrics.update(ibinn_evaluate(model, data["val_images"], data["val_labels"]))
            state.history.append({"step": state.step, **metrics})
        if progress is not None:
            progress(state.step, config.steps, metrics)
    model.eval()
    fit_class_means(model, images)
    return state


def fit_class_means(model: IBINNClassifier, images: np.ndarray, batch_size: int = 250) -> torch.Tensor:
    """ECINN's one-off preprocessing on (training) images: mean embedding per predicted class."""
    dtype = next(model.parameters()).dtype
    batches = (images_to_tensor(images[s:s + batch_size], dtype) for s in range(0, len(images), batch_size))
    return model.fit_predicted_class_means(batches)


# ------------------------------------------------------------------------------------------ checkpoints

def ibinn_checkpoint_save(path: Path, *, config: IBINNTrainConfig, state: IBINNTrainState,
                          metrics: dict[str, Any]) -> str:
    """Write the checkpoint atomically plus a ``.sha256`` sidecar; returns the sha256."""
    path = Path(path)
    payload = {
        "format": IBINN_CHECKPOINT_FORMAT, "architecture": IBINNClassifier.architecture,
        "config": config.to_dict(), "dataset": config.dataset_record(), "metrics": metrics,
        "history": state.history, "step": state.step, "state_dict": state.model.state_dict(),
    }
    return payload_write(path, payload)


def is_ibinn_checkpoint(path: Path | str) -> bool:
    """Whether ``path`` is an IB-INN checkpoint (unreadable files answer False; the reader reports them)."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(payload, dict) and payload.get("format") == IBINN_CHECKPOINT_FORMAT


def ibinn_checkpoint_read(path: Path | str) -> LoadedCheckpoint:
    """Load and verify an IB-INN checkpoint; every problem raises CheckpointError naming it."""
    path = Path(path)
    payload, digest = payload_read(path)
    config, model = payload_model(path, payload, file_format=IBINN_CHECKPOINT_FORMAT, model_class=IBINNClassifier,
                                  config_class=IBINNTrainConfig)
    return LoadedCheckpoint(model=model, config=config, metrics=dict(payload.get("metrics", {})),
                                 dataset=dict(payload.get("dataset", {})), sha256=digest, path=path,
                                 step=int(payload.get("step", 0)), history=list(payload.get("history", [])))


def ibinn_train_to_checkpoint(config: IBINNTrainConfig, out: Path, *, cache_dir: Path | None = None,
                              progress: Callable[[int, int, dict[str, float]], None] | None = None,
                              num_threads: int | None = None) -> LoadedCheckpoint:
    """Load the data, train, evaluate (validation and, for digits, test) and write the checkpoint."""
    started = time.perf_counter()
    data = ibinn_dataset_arrays(config, cache_dir)
    data_seconds = time.perf_counter() - started
    state = ibinn_train(config, data=data, progress=progress)
    seconds = time.perf_counter() - started
    metrics = ibinn_evaluate(state.model, data["val_images"], data["val_labels"])
    if "test_images" in data:
        metrics.update(ibinn_evaluate(state.model, data["test_images"], data["test_labels"], prefix="test"))
    metrics.update({"steps": state.step, "seconds": round(seconds, 1), "data_seconds": round(data_seconds, 1),
                    "torch_threads": num_threads or torch.get_num_threads(), "beta": config.beta})
    ibinn_checkpoint_save(Path(out), config=config, state=state, metrics=metrics)
    return ibinn_checkpoint_read(out)

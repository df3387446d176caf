"""Training and checkpoint files of the invertible classifier (plain torch, no Django).

Loss (seed appendix A.1, eq. 1): bits/dim of the whole flow (phi then mu) + beta * BCE(w^T phi(x) + b, y).
The supervised term reaches only phi (the classifier reads phi's output); mu, the flow steps after the
classifier, therefore learns from the flow objective alone. mu's input is *not* detached from the flow
loss: eq. 1 trains phi on L_un(mu(phi(x))), and cutting that gradient would leave phi's log-determinant
without the prior term that bounds it.

The reference code weights the BCE with 1e-4 and trains for 2.5M samples; on a 2-core CPU budget we raise
beta to 1 (the reference notes suggest 0.01-1) so that a small model reaches >= 90% in minutes.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from explainers.datasets import two4two
from explainers.exceptions import CheckpointError
from explainers.nets.glow import GlowClassifier, GlowConfig, NetConfigError

CHECKPOINT_FORMAT = "studyserver.glow_linear.v1"


class TrainingError(ValueError):
    """An invalid training configuration."""


class NetTrainConfig:
    """What every training configuration shares (a frozen dataclass with a ``net`` architecture field).

    Subclasses name their architecture config (``net_class``) and their error type (``error_class``).
    """

    net_class: ClassVar[type]
    error_class: ClassVar[type[Exception]]

    @property
    def image_size(self) -> int:
        return self.net.image_size

    @property
    def val_seed(self) -> int:
        # Validation images come from a separate stream so that they never repeat a training scene; grids
        # find the held-out images of any checkpoint through this convention.
        return self.dataset_seed + 1_000_003

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["net"] = self.net.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        data = dict(data)
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise cls.error_class(f"unknown training configuration key(s): {', '.join(unknown)}")
        data["net"] = cls.net_class.from_dict(data.get("net", {}))
        return cls(**data)


@dataclass(frozen=True)
class TrainConfig(NetTrainConfig):
    """Everything a training run depends on; stored in the checkpoint."""

    net_class: ClassVar[type] = GlowConfig
    error_class: ClassVar[type[Exception]] = TrainingError

    net: GlowConfig = field(default_factory=GlowConfig)
    steps: int = 2000
    batch_size: int = 64
    learning_rate: float = 1e-3
    warmup_steps: int = 100
    classifier_weight: float = 1.0
    label_noise: float = 0.0
    train_size: int = 20000
    val_size: int = 2000
    dataset: str = "two4two"
    sampler: str = "study"
    dataset_seed: int = 0
    seed: int = 0
    eval_every: int = 250
    grad_clip: float = 50.0

    def __post_init__(self) -> None:
        if not isinstance(self.net, GlowConfig):
            raise TrainingError("net must be a GlowConfig")
        positive_ints = ("steps", "batch_size", "train_size", "val_size", "eval_every")
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise TrainingError(f"{name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0 or not self.grad_clip > 0:
            raise TrainingError("learning_rate and grad_clip must be positive")
        if not self.classifier_weight >= 0:
            raise TrainingError("classifier_weight must be >= 0")
        if not 0.0 <= self.label_noise < 0.5:
            raise TrainingError(f"label_noise must lie in [0, 0.5), got {self.label_noise!r}")
        if self.dataset != "two4two":
            raise TrainingError(f"unknown dataset {self.dataset!r}; only 'two4two' is available")
        if self.sampler not in two4two.SAMPLERS:
            raise TrainingError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(two4two.SAMPLERS)}")


    def dataset_record(self) -> dict[str, Any]:
        return {
            "kind": self.dataset, "sampler": self.sampler, "seed": self.dataset_seed, "size": self.image_size,
            "train_size": self.train_size, "val_size": self.val_size, "val_seed": self.val_seed,
            "label_noise": self.label_noise,
        }


#: Named configurations. "demo": the model of the demo study (>= 90% validation accuracy on the study
#: sampler within 15 minutes on 2 CPU cores). "quick": a tiny model for tests and ``demo --quick``.
PRESETS: dict[str, TrainConfig] = {
    "demo": TrainConfig(
        net=GlowConfig(image_size=32, levels=3, steps_per_level=4, hidden_channels=48, head_steps=2),
        steps=1200, batch_size=48, learning_rate=1e-3, classifier_weight=1.0, train_size=20000, val_size=2000,
    ),
    "quick": TrainConfig(
        net=GlowConfig(image_size=32, levels=3, steps_per_level=2, hidden_channels=24, head_steps=1),
        steps=300, batch_size=32, learning_rate=2e-3, classifier_weight=1.0, train_size=3000, val_size=500,
        warmup_steps=30, eval_every=100,
    ),
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named configuration with overrides (``image_size`` goes to the network)."""
    if name not in PRESETS:
        raise TrainingError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}")
    config = PRESETS[name]
    overrides = {k: v for k, v in overrides.items() if v is not None}
    size = overrides.pop("image_size", None)
    if size is not None:
        try:
            config = replace(config, net=replace(config.net, image_size=int(size)))
        except NetConfigError as exc:
            raise TrainingError(str(exc)) from exc
    try:
        return replace(config, **overrides)
    except TypeError as exc:
        raise TrainingError(str(exc)) from exc


# ----------------------------------------------------------------------------------------------- data

def dataset_arrays(config: TrainConfig, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Train/validation images and labels, rendered once and cached as .npz under ``cache_dir``."""
    def load(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        path = None
        if cache_dir is not None:
            path = Path(cache_dir) / f"two4two-{config.sampler}-s{seed}-n{n}-{config.image_size}px.npz"
            if path.exists():
                try:
                    with np.load(path) as data:
                        return data["images"], data["labels"]
                except (OSError, ValueError, KeyError):
                    path.unlink(missing_ok=True)  # a broken cache file is re-rendered
        images, labels, _ = two4two.sample(n, seed, config.sampler, config.image_size)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, images=images, labels=labels)
            os.replace(tmp, path)
        return images, labels

    train_images, train_labels = load(config.train_size, config.dataset_seed)
    val_images, val_labels = load(config.val_size, config.val_seed)
    return {"train_images": train_images, "train_labels": train_labels,
            "val_images": val_images, "val_labels": val_labels}


def to_tensor(images: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 N×H×W×3 -> float N×3×H×W in [0, 1] (pixel centres, (v + 0.5) / 256)."""
    return (torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(dtype) + 0.5) / 256.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float N×3×H×W in [0, 1] -> uint8 N×H×W×3 (clamped)."""
    return (x.detach().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def _dequantize(images: np.ndarray, generator: torch.Generator) -> torch.Tensor:
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    return (x + torch.rand(x.shape, generator=generator)) / 256.0


# --------------------------------------------------------------------------------------------- training

@dataclass
class TrainState:
    model: GlowClassifier
    optimizer: torch.optim.Optimizer
    step: int
    history: list[dict[str, float]]


def build_model(config: GlowConfig, seed: int = 0) -> GlowClassifier:
    torch.manual_seed(seed)
    return GlowClassifier(config)


def _learning_rate(config: TrainConfig, step: int) -> float:
    warmup = min(1.0, (step + 1) / max(1, config.warmup_steps))
    progress = min(1.0, step / max(1, config.steps))
    return config.learning_rate * warmup * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def evaluate(model: GlowClassifier, images: np.ndarray, labels: np.ndarray, batch_size: int = 250,
             seed: int = 0) -> dict[str, float]:
    """Validation accuracy, mean BCE and bits/dim (with fixed dequantisation noise)."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    correct, bce, bpd = 0.0, 0.0, 0.0
    for start in range(0, len(images), batch_size):
        x = _dequantize(images[start:start + batch_size], generator)
        y = torch.from_numpy(labels[start:start + batch_size]).float()
        out = model(x)
        correct += float(((out.logit > 0).float() == y).sum())
        bce += float(F.binary_cross_entropy_with_logits(out.logit, y, reduction="sum"))
        bpd += float(out.bits_per_dim.sum())
    model.train(was_training)
    n = max(1, len(images))
    return {"val_accuracy": correct / n, "val_bce": bce / n, "val_bits_per_dim": bpd / n}


def train(config: TrainConfig, *, data: dict[str, np.ndarray], state: TrainState | None = None,
          progress: Callable[[int, int, dict[str, float]], None] | None = None) -> TrainState:
    """Train until ``config.steps``; ``state`` resumes an earlier run. Deterministic for the config's seed."""
    if state is None:
        model = build_model(config.net, config.seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        state = TrainState(model=model, optimizer=optimizer, step=0, history=[])
    model, optimizer = state.model, state.optimizer
    model.train()
    train_images, train_labels = data["train_images"], data["train_labels"]
    n = len(train_images)
    rng = np.random.default_rng([config.seed, state.step])
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)
    if config.label_noise > 0:
        flip = np.random.default_rng([config.seed, 7]).random(n) < config.label_noise
        train_labels = np.where(flip, 1 - train_labels, train_labels)
    running: dict[str, float] = {}
    while state.step < config.steps:
        index = rng.integers(0, n, size=config.batch_size)
        x = _dequantize(train_images[index], generator)
        y = torch.from_numpy(train_labels[index]).float()
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(config, state.step)
        out = model(x)
        bits = out.bits_per_dim.mean()
        bce = F.binary_cross_entropy_with_logits(out.logit, y)
        loss = bits + config.classifier_weight * bce
        if not torch.isfinite(loss):
            raise TrainingError(f"training diverged at step {state.step} (loss {float(loss)})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        state.step += 1
        accuracy = float(((out.logit > 0).float() == y).float().mean())
        for key, value in (("bits_per_dim", bits.item()), ("bce", bce.item()), ("accuracy", accuracy)):
            running[key] = value if key not in running else 0.95 * running[key] + 0.05 * value
        metrics = dict(running)
        if state.step % config.eval_every == 0 or state.step == config.steps:
            metrics.update(evaluate(model, data["val_images"], data["val_labels"]))
            state.history.append({"step": state.step, **metrics})
        if progress is not None:
            progress(state.step, config.steps, metrics)
    model.eval()
    return state


# ------------------------------------------------------------------------------------------ checkpoints

def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_save(path: Path, *, config: TrainConfig, state: TrainState, metrics: dict[str, Any],
                    extra: dict[str, Any] | None = None) -> str:
    """Write the checkpoint atomically plus a ``.sha256`` sidecar; returns the sha256."""
    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "architecture": GlowClassifier.architecture,
        "config": config.to_dict(),
        "dataset": config.dataset_record(),
        "metrics": metrics,
        "history": state.history,
        "step": state.step,
        "state_dict": state.model.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "extra": extra or {},
    }
    return payload_write(path, payload)


def payload_write(path: Path, payload: dict[str, Any]) -> str:
    """Write a checkpoint payload atomically plus a ``.sha256`` sidecar; returns the sha256.

    Shared by every checkpoint format, so that all of them are verified the same way when read.
    """
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return digest


def payload_read(path: Path) -> tuple[dict[str, Any], str]:
    """Read a checkpoint payload written by :func:`payload_write`, checking its sha256 sidecar.

    Every problem (missing, changed, truncated, not a checkpoint) raises CheckpointError naming the file.
    """
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


def payload_model(path: Path, payload: dict[str, Any], *, file_format: str, model_class, config_class):
    """The (config, model in eval mode) of a verified payload of ``file_format``; CheckpointError otherwise."""
    if payload.get("format") != file_format:
        raise CheckpointError(
            f"checkpoint {path.name} is not a {file_format} file (found format {payload.get('format')!r})"
        )
    if payload.get("architecture") != model_class.architecture:
        raise CheckpointError(
            f"checkpoint {path.name} holds architecture {payload.get('architecture')!r}, "
            f"expected {model_class.architecture!r}"
        )
    try:
        config = config_class.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path.name} has an invalid configuration: {exc}") from exc
    model = model_class(config.net)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path.name}: the weights do not match the recorded architecture {config.net}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    return config, model.eval()


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A verified checkpoint: the model in eval mode and what it was trained on (Glow or IB-INN)."""

    model: GlowClassifier  # or explainers.nets.ibinn.IBINNClassifier
    config: TrainConfig  # or explainers.ibinn_training.IBINNTrainConfig
    metrics: dict[str, Any]
    dataset: dict[str, Any]
    sha256: str
    path: Path
    step: int
    history: list[dict[str, float]]
    optimizer_state: dict[str, Any] | None = None


def checkpoint_read(path: Path | str) -> LoadedCheckpoint:
    """Load and verify a checkpoint file; every problem raises CheckpointError naming it."""
    path = Path(path)
    payload, digest = payload_read(path)
    config, model = payload_model(path, payload, file_format=CHECKPOINT_FORMAT, model_class=GlowClassifier,
                                  config_class=TrainConfig)
    return LoadedCheckpoint(
        model=model, config=config, metrics=dict(payload.get("metrics", {})),
        dataset=dict(payload.get("dataset", {})), sha256=digest, path=path, step=int(payload.get("step", 0)),
        history=list(payload.get("history", [])), optimizer_state=payload.get("optimizer"),
    )


def train_to_checkpoint(config: TrainConfig, out: Path, *, resume: bool = False, cache_dir: Path | None = None,
                        progress: Callable[[int, int, dict[str, float]], None] | None = None,
                        num_threads: int | None = None) -> LoadedCheckpoint:
    """Render the data, train (or resume from ``out``), evaluate and write the checkpoint."""
    out = Path(out)
    state = None
    if resume and out.exists():
        loaded = checkpoint_read(out)
        if loaded.config.net != config.net:
            raise CheckpointError(
                f"cannot resume {out.name}: it was trained with {loaded.config.net}, not {config.net}"
            )
        optimizer = torch.optim.Adam(loaded.model.parameters(), lr=config.learning_rate)
        if loaded.optimizer_state:
            optimizer.load_state_dict(loaded.optimizer_state)
        loaded.model.train()
        state = TrainState(model=loaded.model, optimizer=optimizer, step=loaded.step, history=loaded.history)
    started = time.perf_counter()
    data = dataset_arrays(config, cache_dir)
    render_seconds = time.perf_counter() - started
    state = train(config, data=data, state=state, progress=progress)
    seconds = time.perf_counter() - started
    metrics = evaluate(state.model, data["val_images"], data["val_labels"])
    metrics.update({"steps": state.step, "seconds": round(seconds, 1),
                    "render_seconds": round(render_seconds, 1), "torch_threads": num_threads or torch.get_num_threads()})
    checkpoint_save(out, config=config, state=state, metrics=metrics)
    return checkpoint_read(out)

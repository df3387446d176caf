"""The GAN loop of the progressive-exaggeration explainer: two optimizers, one checkpoint file, resumable.

Per step (Singla et al., section 2.4; losses in training/exaggeration.py): draw a minibatch of dequantised
images, their bins c_f(x, 0) under the frozen classifier and uniformly drawn target bins c'; update the
discriminator ``discriminator_steps`` times on the hinge loss, then the encoder and generator once on
L_G. Adam (betas 0, 0.9) for both, as in Projection GAN. Deterministic for a seed and resumable from any
step (minibatches and target bins are seeded by (seed, step)); runs on any device (loop.resolve_device),
ends on the CPU; written through training/checkpoints.py (sha256 sidecar).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from explainers.core import pixels
from explainers.core.errors import CheckpointError
from explainers.core.evaluation.exaggeration import training_snapshot
from explainers.core.methods.gradients import logit_function
from explainers.core.nets.exaggeration import ExaggerationNet

from .checkpoints import LoadedCheckpoint, checkpoint_read, checkpoint_save
from .exaggeration import ExaggerationTrainConfig, ExaggerationTrainingError, discriminator_loss, generator_loss
from .loop import Progress, _optimizer_to, resolve_device

#: Adam's betas for both players (Projection GAN, Miyato & Koyama 2018).
BETAS = (0.0, 0.9)
#: Validation images used for the snapshots recorded every ``eval_every`` steps.
SNAPSHOT_IMAGES = 64


class PairedOptimizers:
    """The generator's and the discriminator's Adam, saved and restored as one state dict."""

    def __init__(self, model: ExaggerationNet, learning_rate: float):
        self.generator = torch.optim.Adam(model.generator_parameters(), lr=learning_rate, betas=BETAS)
        self.discriminator = torch.optim.Adam(model.discriminator_parameters(), lr=learning_rate, betas=BETAS)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != {"generator", "discriminator"}:
            raise CheckpointError("the checkpoint's optimizer state is not an explainer's (generator, discriminator)")
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])

    def to(self, device: torch.device) -> None:
        _optimizer_to(self.generator, device)
        _optimizer_to(self.discriminator, device)


@dataclass
class ExplainerState:
    model: ExaggerationNet
    optimizer: PairedOptimizers
    step: int
    history: list[dict[str, float]]


def _frozen(classifier: torch.nn.Module) -> list[tuple[torch.nn.Parameter, bool]]:
    """Stop gradients into the classifier's weights (they still flow through it to the generated images)."""
    saved = [(p, p.requires_grad) for p in classifier.parameters()]
    for parameter, _ in saved:
        parameter.requires_grad_(False)
    return saved


def train_explainer(config: ExaggerationTrainConfig, classifier: torch.nn.Module, *, data: dict[str, np.ndarray],
                    state: ExplainerState | None = None, progress: Progress | None = None,
                    device: str | torch.device | None = "cpu", time_limit_s: float | None = None,
                    snapshot: Callable[[ExplainerState], None] | None = None) -> ExplainerState:
    """Train (or continue ``state``) until ``config.steps``, or until ``time_limit_s`` seconds have passed (a
    snapshot is then taken; resuming continues from that step). ``snapshot(state)`` runs after every
    evaluation (e.g. to write a resumable checkpoint). The explainer and the classifier end on the CPU."""
    deadline = None if time_limit_s is None else time.perf_counter() + time_limit_s
    device = resolve_device(device) if not isinstance(device, torch.device) else device
    classifier = classifier.to(device).eval()  # first: the probe below runs on the explainer's device
    if state is None:
        torch.manual_seed(config.seed)
        model = ExaggerationNet(config.net).to(device)
        model.record_classifier(logit_function(classifier))
        state = ExplainerState(model=model, optimizer=PairedOptimizers(model, config.learning_rate), step=0,
                               history=[])
    else:
        state.model.to(device).check_classifier(logit_function(classifier))
    model = state.model.to(device).train()
    state.optimizer.to(device)
    forward = logit_function(classifier)
    saved = _frozen(classifier)
    images = data["train_images"]
    rng = np.random.default_rng([config.seed, state.step])
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + state.step)
    bins = config.net.num_bins
    running: dict[str, float] = {}
    try:
        while state.step < config.steps:
            x = pixels.dequantize(images[rng.integers(0, len(images), size=config.batch_size)], generator).to(device)
            target_bins = torch.randint(0, bins, (config.batch_size,), generator=generator).to(device)
            with torch.no_grad():
                source_bins = model.condition(model.posterior(forward, x), 0.0)
            for _ in range(config.discriminator_steps):
                with torch.no_grad():
                    fake = model(x, target_bins)
                d_loss = discriminator_loss(model, x, source_bins, fake, target_bins)
                state.optimizer.discriminator.zero_grad(set_to_none=True)
                d_loss.backward()
                torch.nn.utils.clip_grad_norm_(model.discriminator_parameters(), config.grad_clip)
                state.optimizer.discriminator.step()
            g_loss, parts = generator_loss(model, forward, x, source_bins, target_bins, config)
            if not (torch.isfinite(g_loss) and torch.isfinite(d_loss)):
                raise ExaggerationTrainingError(f"training diverged at step {state.step}")
            state.optimizer.generator.zero_grad(set_to_none=True)
            g_loss.backward()
            torch.nn.utils.clip_grad_norm_(model.generator_parameters(), config.grad_clip)
            state.optimizer.generator.step()
            state.optimizer.discriminator.zero_grad(set_to_none=True)  # L_G's gradients reach D too: drop them
            state.step += 1
            for key, value in {"d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()), **parts}.items():
                running[key] = value if key not in running else 0.95 * running[key] + 0.05 * value
            metrics = dict(running)
            out_of_time = deadline is not None and time.perf_counter() > deadline
            if state.step % config.eval_every == 0 or state.step == config.steps or out_of_time:
                metrics.update(training_snapshot(model, forward, data["val_images"][:SNAPSHOT_IMAGES]))
                model.train()
                state.history.append({"step": state.step, **metrics})
                if snapshot is not None and state.step < config.steps and not out_of_time:
                    snapshot(state)
            if progress is not None:
                progress(state.step, config.steps, metrics)
            if out_of_time:
                break
    finally:
        for parameter, requires_grad in saved:
            parameter.requires_grad_(requires_grad)
        classifier.to("cpu")
        model.eval().to("cpu")
        state.optimizer.to(torch.device("cpu"))
    return state


def _resumed_state(config: ExaggerationTrainConfig, out: Path) -> ExplainerState:
    loaded = checkpoint_read(out)
    if not isinstance(loaded.config, ExaggerationTrainConfig) or loaded.config.net != config.net:
        raise CheckpointError(f"cannot resume {out.name}: it was trained with {loaded.config.net}, not {config.net}")
    if loaded.config.classifier_sha256 != config.classifier_sha256:
        raise CheckpointError(f"cannot resume {out.name}: it explains classifier "
                              f"{loaded.config.classifier_sha256[:12]}…, not {config.classifier_sha256[:12]}…")
    optimizer = PairedOptimizers(loaded.model, config.learning_rate)
    if loaded.optimizer_state:
        optimizer.load_state_dict(loaded.optimizer_state)
    return ExplainerState(model=loaded.model, optimizer=optimizer, step=loaded.step, history=loaded.history)


def explainer_train_to_checkpoint(config: ExaggerationTrainConfig, classifier: torch.nn.Module, out: Path | str, *,
                                  resume: bool = False, cache_dir: Path | None = None,
                                  progress: Progress | None = None, num_threads: int | None = None,
                                  device: str | None = "cpu", time_limit_s: float | None = None,
                                  data_loader: Callable[..., dict[str, np.ndarray]] | None = None
                                  ) -> LoadedCheckpoint:
    """Load the data, train (or resume from ``out``) an explainer of ``classifier`` on ``device``, write ``out``.

    ``config.classifier_sha256`` names the classifier's checkpoint; a resumed run must explain the same one.
    ``time_limit_s`` stops training early (the checkpoint records the steps done; ``resume`` continues).
    """
    from .exaggeration import FAMILY

    out = Path(out)
    resolved = resolve_device(device)
    state = _resumed_state(config, out) if resume and out.exists() else None
    started = time.perf_counter()
    data = (data_loader or FAMILY.dataset_arrays)(config, cache_dir)
    data_seconds = time.perf_counter() - started
    if resolved.type == "cuda":
        torch.cuda.reset_peak_memory_stats(resolved)

    def snapshot(current: ExplainerState) -> None:  # a killed run resumes from its last evaluation
        checkpoint_save(out, config=config, state=current, metrics={"steps": current.step, "partial": True})

    state = train_explainer(config, classifier, data=data, state=state, progress=progress, device=resolved,
                            time_limit_s=time_limit_s, snapshot=snapshot)
    seconds = time.perf_counter() - started
    metrics = dict(state.history[-1]) if state.history else {}
    metrics.pop("step", None)
    metrics.update({"steps": state.step, "seconds": round(seconds, 1), "data_seconds": round(data_seconds, 1),
                    "torch_threads": num_threads or torch.get_num_threads(), "device": resolved.type,
                    "classifier_sha256": config.classifier_sha256, **_peak_memory(resolved)})
    checkpoint_save(out, config=config, state=state, metrics=metrics)
    return checkpoint_read(out)


def _peak_memory(device: torch.device) -> dict[str, float]:
    """Peak memory of the run: GPU memory on CUDA, else the process's peak resident set (Linux, MiB)."""
    if device.type == "cuda":
        return {"peak_gpu_mib": round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)}
    try:
        import resource

        return {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    except (ImportError, OSError):  # pragma: no cover - not Linux
        return {}

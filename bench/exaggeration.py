"""Progressive-exaggeration benchmarks: training time and memory per step, time and network evaluations per
explanation row, side by side with the invertible model's counterfactual interpolation.

The exaggeration row is the registered method ``progressive_exaggeration`` (E once per image, G once per
column, the classifier on the image and on every served column); the invertible row is
``counterfactual_interpolation`` on the shipped Glow (one forward pass, one inverse pass per column, the
logit re-measured on each decoded image), counted by bench/grids.py's EvaluationCounter. Runs on CPU, and on
CUDA too when present.

    python bench/exaggeration.py --explainer var/h16/expl-biased-32.pt --classifier var/h16/cnn-biased-32.pt
                                 [--glow explainers/checkpoints/two4two-seed64.pt] [--images 32] [--columns 10]
                                 [--train-steps 20] [--threads 2] [--device all|cpu|cuda]
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository before bench/ (bench/explainers.py)
sys.path.append(str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from grids import EvaluationCounter  # noqa: E402

from explainers.core.datasets import two4two  # noqa: E402
from explainers.core.methods import method_config, method_get  # noqa: E402
from explainers.core.training.checkpoints import checkpoint_read  # noqa: E402
from explainers.core.training.exaggeration_loop import train_explainer  # noqa: E402
from explainers.core.training.shipped import shipped_path  # noqa: E402


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def exaggeration_rows(explainer, classifier, images, columns: int, device) -> tuple[float, float]:
    """(seconds per row, network evaluations per row) of the registered method, after one warm-up row."""
    method = method_get("progressive_exaggeration")(method_config("progressive_exaggeration", {"steps": columns}))
    explainer, classifier = explainer.to(device).eval(), classifier.to(device).eval()
    x = torch.as_tensor(images).to(device)
    method.explain(classifier, x[:1], auxiliaries={"explainer": explainer})
    _sync(device)
    started = time.perf_counter()
    result = method.explain(classifier, x, auxiliaries={"explainer": explainer})
    _sync(device)
    n = x.shape[0]
    return (time.perf_counter() - started) / n, result.extra["network_evaluations"] / n


def invertible_rows(glow, images, columns: int, device) -> tuple[float, float]:
    """(seconds per row, counted forward + inverse passes per row) of counterfactual interpolation to
    ``columns`` target logits spread over [-5, 5], re-measured on every decoded image."""
    targets = np.linspace(-5.0, 5.0, columns).tolist()
    method = method_get("counterfactual_interpolation")(method_config("counterfactual_interpolation",
                                                                      {"target_logits": targets}))
    glow = glow.to(device).eval()
    x = torch.as_tensor(images).to(device)
    method.explain(glow, x[:1])
    _sync(device)
    counter = EvaluationCounter(glow)
    with counter:
        started = time.perf_counter()
        method.explain(glow, x)
        _sync(device)
        seconds = time.perf_counter() - started
    n = x.shape[0]
    return seconds / n, (counter.forward + counter.inverse) / n


def training_step(config, classifier, images, steps: int, device) -> dict[str, float]:
    """Seconds per GAN step (discriminator + generator update) after a 2-step warm-up, and peak memory."""
    data = {"train_images": images, "train_labels": np.zeros(len(images), np.int64), "val_images": images[:16],
            "val_labels": np.zeros(16, np.int64)}
    warm = train_explainer(replace(config, steps=2, eval_every=10_000), classifier, data=data, device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    started = time.perf_counter()
    train_explainer(replace(config, steps=2 + steps, eval_every=10_000), classifier, data=data, state=warm,
                    device=device)
    _sync(device)
    seconds = (time.perf_counter() - started) / steps
    memory = (torch.cuda.max_memory_allocated(device) / 2 ** 20 if device.type == "cuda"
              else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"seconds_per_step": seconds, "peak_mib": memory}


def run(args, device, explainer, classifier, glow) -> None:
    size = explainer.model.config.image_size
    print(f"\n== device {device} (threads {torch.get_num_threads()})")
    images = to_float(two4two.sample(args.images, 123, "study", size)[0])
    seconds, evaluations = exaggeration_rows(explainer.model, classifier.model, images, args.columns, device)
    print(f"progressive exaggeration, {size} px, {args.columns} columns: {seconds * 1e3:.1f} ms per row "
          f"({seconds / args.columns * 1e3:.2f} ms per image), {evaluations:.0f} network evaluations per row "
          f"(E 1 + G {args.columns} + f {args.columns + 1})")
    if glow is not None:
        glow_size = glow.model.config.image_size
        glow_images = to_float(two4two.sample(args.images, 123, "study", glow_size)[0])
        seconds_g, evaluations_g = invertible_rows(glow.model, glow_images, args.columns, device)
        print(f"invertible counterfactual interpolation, {glow_size} px, {args.columns} columns: "
              f"{seconds_g * 1e3:.1f} ms per row ({seconds_g / args.columns * 1e3:.2f} ms per image), "
              f"{evaluations_g:.0f} counted forward + inverse passes per row (plus the logit of each decoded image)")
    if args.train_steps:
        train_images = two4two.sample(256, 7, "study", size)[0]
        timing = training_step(explainer.config, classifier.model, train_images, args.train_steps, device)
        print(f"training {explainer.config.net}: {timing['seconds_per_step']:.3f} s per step (batch "
              f"{explainer.config.batch_size}), peak {'GPU' if device.type == 'cuda' else 'process RSS'} memory "
              f"{timing['peak_mib']:.0f} MiB; the preset's {explainer.config.steps} steps = "
              f"{timing['seconds_per_step'] * explainer.config.steps / 60:.1f} min")


def to_float(images: np.ndarray) -> torch.Tensor:
    from explainers.core.pixels import to_tensor

    return to_tensor(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--explainer", required=True, help="an explainer checkpoint (train_explainer --out)")
    parser.add_argument("--classifier", required=True, help="the classifier checkpoint it explains")
    parser.add_argument("--glow", default=str(shipped_path("two4two-seed64")), help="'' to skip the invertible row")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--columns", type=int, default=10)
    parser.add_argument("--train-steps", type=int, default=10, help="GAN steps to time (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("all", "cpu", "cuda"), default="all")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    explainer, classifier = checkpoint_read(args.explainer), checkpoint_read(args.classifier)
    if explainer.config.classifier_sha256 and explainer.config.classifier_sha256 != classifier.sha256:
        raise SystemExit("--explainer was trained for another classifier than --classifier")
    glow = checkpoint_read(args.glow) if args.glow else None
    print(f"explainer {Path(args.explainer).name} ({explainer.step} steps), classifier {Path(args.classifier).name} "
          f"(val accuracy {classifier.metrics.get('val_accuracy', float('nan')):.3f})")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    if args.device in ("all", "cpu"):
        run(args, torch.device("cpu"), explainer, classifier, glow)
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        run(args, torch.device("cuda"), explainer, classifier, glow)


if __name__ == "__main__":
    main()

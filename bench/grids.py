"""Stimulus-grid benchmarks: build time per grid kind at demo size, invertible vs gradient
counterfactuals (network evaluations and wall time), and the share of bare forward+inverse throughput the
whole pipeline keeps. Uses the demo architecture (explainers.core.training.glow.PRESETS["demo"]); timings do not
depend on training, so the weights are freshly initialised. Runs on CPU, and on CUDA too when present.

    python bench/grids.py [--held-out 3000] [--threads 2]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explainers.core.datasets import two4two  # noqa: E402
from explainers.core.methods.counterfactual_interpolation import set_logit  # noqa: E402
from explainers.core.nets.glow import GlowClassifier  # noqa: E402
from explainers.core.pixels import to_tensor  # noqa: E402
from explainers.core.stimuli.build import build_grid  # noqa: E402
from explainers.core.stimuli.encoding import score_images  # noqa: E402
from explainers.core.stimuli.layout import GridLayout  # noqa: E402
from explainers.core.stimuli.manifest import write_grid_files  # noqa: E402
from explainers.core.training.glow import PRESETS  # noqa: E402


def demo_model(images: np.ndarray, device) -> GlowClassifier:
    torch.manual_seed(0)
    model = GlowClassifier(PRESETS["demo"].net)
    model.train()
    with torch.no_grad():
        model(to_tensor(images[:64]))  # actnorm data-dependent init
        model.classifier.weight.normal_(std=0.05)
    return model.to(device).eval()


def gradient_counterfactual(model, x, target, lr=0.01, tolerance=1e-2, max_steps=1000):
    """Input-space counterfactual: Adam on x minimising (logit(x) - target)^2 until within tolerance."""
    x = x.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    evaluations = 0
    for _ in range(max_steps):
        logit = model.logit(x)
        evaluations += 1
        if (logit - target).abs().max().item() < tolerance:
            break
        optimiser.zero_grad()
        ((logit - target) ** 2).sum().backward()
        evaluations += 1  # the backward pass costs about one more network evaluation
        optimiser.step()
    return evaluations, (logit - target).abs().max().item()


def run(device, images, held_out_logits_cache):
    model = demo_model(images, device)
    layout = GridLayout(rows=30, held_out=len(images), batch_size=50)
    print(f"\n== device {device} (threads {torch.get_num_threads()}), {images.shape[1]} px, "
          f"held-out {len(images)}")
    started = time.perf_counter()
    logits, z = score_images(model, images, batch_size=100, device=device, keep_z=True)
    score_s = time.perf_counter() - started
    print(f"score held-out images: {score_s:.2f} s ({len(images) / score_s:.0f} img/s)")
    results = {}
    for kind in ("baseline", "counterfactual", "isofactual"):
        started = time.perf_counter()
        result = build_grid(model, images, kind=kind, layout=layout, seed=0, device=device,
                                  held_out=(logits, z), positive_on_left=True)
        build_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            write_grid_files(result, Path(folder), manifest={})
            write_s = time.perf_counter() - started
        results[kind] = (build_s, write_s)
        print(f"{kind:15s} 30x5: build {build_s:6.2f} s + files {write_s:5.2f} s (+ scoring {score_s:.2f} s)")

    # Invertible counterfactual vs gradient-based in input space, same originals, same targets.
    n = 8
    x = to_tensor(images[:n], device=device)
    with torch.no_grad():
        base = model.logit(x)
    target = base + 2.0
    started = time.perf_counter()
    with torch.no_grad():
        latent = model.encode(x)
        decoded = model.decode(latent.with_z(set_logit(model, latent.z, target)))
    invertible_s = (time.perf_counter() - started) / n
    with torch.no_grad():
        reached = (model.logit(decoded) - target).abs().max().item()
    started = time.perf_counter()
    evaluations, gap = gradient_counterfactual(model, x, target)
    gradient_s = (time.perf_counter() - started) / n
    print(f"counterfactual, logit +2: invertible 2 evaluations (1 forward + 1 inverse), {invertible_s * 1e3:.1f} ms"
          f"/image (re-encoded error {reached:.1e}); gradient {evaluations} evaluations, {gradient_s * 1e3:.1f} ms"
          f"/image (error {gap:.1e}); ratio {evaluations / 2:.0f}x evaluations, {gradient_s / invertible_s:.0f}x time")

    # Bare forward+inverse throughput vs the whole counterfactual pipeline (selection, PNGs, composite).
    batch = to_tensor(images[:150], device=device)
    started = time.perf_counter()
    with torch.no_grad():
        for part in range(0, 150, 50):
            latent = model.encode(batch[part:part + 50])
            model.decode(latent)
    bare = 150 / (time.perf_counter() - started)
    cf_build, cf_write = results["counterfactual"]
    pipeline = 150 / (cf_build + cf_write)
    print(f"bare forward+inverse {bare:.0f} img/s; counterfactual grid pipeline {pipeline:.0f} cells/s "
          f"= {100 * pipeline / bare:.0f}% of bare")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--held-out", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    size = PRESETS["demo"].net.image_size
    started = time.perf_counter()
    images, _, _ = two4two.sample(args.held_out, 1_000_003, "study", size)
    print(f"render {args.held_out} held-out images at {size} px: {time.perf_counter() - started:.1f} s")
    run(torch.device("cpu"), images, None)
    if torch.cuda.is_available():
        run(torch.device("cuda"), images, None)


if __name__ == "__main__":
    main()

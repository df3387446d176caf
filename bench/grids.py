"""Stimulus-grid benchmarks on the trained demo checkpoint: build time per grid kind, invertible vs gradient
counterfactuals, and the share of bare forward+inverse throughput the whole pipeline keeps at equal work.

Network evaluations are *counted*, not assumed: every call of the model's encoder (one forward pass per
image), decoder (one inverse pass per image) and every backward pass that reaches the input is tallied by
:class:`EvaluationCounter`. The pipeline share compares equal work: the bare loop runs exactly the forward
and inverse passes that the counter saw the counterfactual-grid pipeline run, in the same batch size.
Runs on CPU, and on CUDA too when present.

    python bench/grids.py [--checkpoint explainers/checkpoints/two4two-seed64.pt] [--held-out 1500] [--threads 2]
                          [--device all|cpu|cuda]

With ``--held-out 3000`` the grids are exactly the demo's (the checkpoint's validation stream, seed 0), so the
served-cell faithfulness it prints is the demo grids'.
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
from explainers.core.pixels import to_tensor  # noqa: E402
from explainers.core.stimuli.build import build_grid  # noqa: E402
from explainers.core.stimuli.encoding import score_images  # noqa: E402
from explainers.core.stimuli.layout import GridLayout  # noqa: E402
from explainers.core.stimuli.manifest import write_grid_files  # noqa: E402
from explainers.core.training.checkpoints import checkpoint_read  # noqa: E402
from explainers.core.training.config import VALIDATION_SEED_OFFSET  # noqa: E402
from explainers.core.training.shipped import shipped_path  # noqa: E402


class EvaluationCounter:
    """Counts the images that pass through the model's encoder (forward) and decoder (inverse), and the
    backward passes that reach an input, by wrapping the model instance's methods while active."""

    def __init__(self, model):
        self.model = model
        self.forward = self.inverse = self.backward = 0
        self.forward_calls = self.inverse_calls = 0

    def __enter__(self) -> "EvaluationCounter":
        encode, decode = self.model.encode, self.model.decode

        def counted_encode(x, *args, **kwargs):
            self.forward += x.shape[0]
            self.forward_calls += 1
            latent = encode(x, *args, **kwargs)
            if latent.z.requires_grad:  # a gradient reaching this call's output starts one backward pass
                latent.z.register_hook(self._count_backward(x.shape[0]))
            return latent

        def counted_decode(latent, *args, **kwargs):
            self.inverse += latent.z.shape[0]
            self.inverse_calls += 1
            return decode(latent, *args, **kwargs)

        self.model.encode, self.model.decode = counted_encode, counted_decode
        return self

    def _count_backward(self, images: int):
        def hook(gradient):
            self.backward += images
            return gradient
        return hook

    def __exit__(self, *exc) -> None:
        del self.model.encode, self.model.decode  # drop the instance attributes: the class methods return

    def reset(self) -> None:
        self.forward = self.inverse = self.backward = self.forward_calls = self.inverse_calls = 0


def gradient_counterfactual(model, x, target, lr=0.01, tolerance=1e-2, max_steps=1000):
    """Input-space counterfactual: Adam on x minimising (logit(x) - target)^2 until within tolerance."""
    x = x.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    for _ in range(max_steps):
        logit = model.logit(x)
        if (logit - target).abs().max().item() < tolerance:
            break
        optimiser.zero_grad()
        ((logit - target) ** 2).sum().backward()
        optimiser.step()
    return (logit - target).abs().max().item()


def bare_forward_inverse(model, images: np.ndarray, forward: int, inverse: int, batch_size: int, device) -> float:
    """Seconds for ``forward`` encodes and ``inverse`` decodes of held-out images in batches of ``batch_size``
    (each batch is encoded, then as many of its latents as are still due are decoded)."""
    started = time.perf_counter()
    done_forward = done_inverse = 0
    with torch.no_grad():
        while done_forward < forward or done_inverse < inverse:
            n = max(min(batch_size, forward - done_forward), min(batch_size, inverse - done_inverse))
            latent = model.encode(to_tensor(images[:n], device=device))
            done_forward += n
            take = min(n, inverse - done_inverse)
            if take > 0:
                model.decode(latent.select(slice(0, take)))
                done_inverse += take
    return time.perf_counter() - started


def run(model, device, images):
    model = model.to(device).eval()
    layout = GridLayout(rows=30, held_out=len(images), batch_size=50)
    print(f"\n== device {device} (threads {torch.get_num_threads()}), {images.shape[1]} px, held-out {len(images)}")
    counter = EvaluationCounter(model)
    with counter:
        started = time.perf_counter()
        logits, z = score_images(model, images, batch_size=100, device=device, keep_z=True)
        score_s = time.perf_counter() - started
        print(f"score held-out images: {score_s:.2f} s ({len(images) / score_s:.0f} img/s), "
              f"{counter.forward} forward passes counted")
        results = {}
        for kind in ("baseline", "counterfactual", "isofactual"):
            counter.reset()
            started = time.perf_counter()
            result = build_grid(model, images, kind=kind, layout=layout, seed=0, device=device,
                                held_out=(logits, z), positive_on_left=True)
            build_s = time.perf_counter() - started
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                write_grid_files(result, Path(folder), manifest={})
                write_s = time.perf_counter() - started
            results[kind] = (build_s, write_s, counter.forward, counter.inverse)
            print(f"{kind:15s} 30x5: build {build_s:6.2f} s + files {write_s:5.2f} s; counted {counter.forward} "
                  f"forward + {counter.inverse} inverse + {counter.backward} backward passes (grid's own tally "
                  f"{result.network_evaluations})")
            if "faithfulness" in result.extra:
                f, rounding = result.extra["faithfulness"], result.extra["served_rounding"]
                print(f"{'':15s} served cells vs column targets: mean |error| {f['mean_abs_error']:.4f}, largest "
                      f"{f['max_abs_error']:.4f}, spacing {f['target_spacing']:.4f}, {f['monotone_rows']}/{f['rows']} "
                      f"rows monotone; {rounding['mean_flipped_values']:.1f} of {rounding['values_per_image']} "
                      f"values per image served at the farther 8-bit level (largest {rounding['max_flipped_values']})")

        # Invertible counterfactual vs gradient-based in input space, same originals, same targets.
        n = 8
        x = to_tensor(images[:n], device=device)
        with torch.no_grad():
            target = model.logit(x) + 2.0
        counter.reset()
        started = time.perf_counter()
        with torch.no_grad():
            latent = model.encode(x)
            decoded = model.decode(latent.with_z(set_logit(model, latent.z, target)))
        invertible_s = (time.perf_counter() - started) / n
        invertible = (counter.forward + counter.inverse + counter.backward) / n
        invertible_text = f"{counter.forward / n:.0f} forward + {counter.inverse / n:.0f} inverse"
        with torch.no_grad():
            reached = (model.logit(decoded) - target).abs().max().item()
        counter.reset()
        started = time.perf_counter()
        gap = gradient_counterfactual(model, x, target)
        gradient_s = (time.perf_counter() - started) / n
        gradient = (counter.forward + counter.backward) / n
        print(f"counterfactual, logit +2: invertible {invertible:.0f} evaluations ({invertible_text}), "
              f"{invertible_s * 1e3:.1f} ms/image (re-encoded error {reached:.1e}); gradient {gradient:.0f} evaluations "
              f"({counter.forward / n:.0f} forward + {counter.backward / n:.0f} backward), {gradient_s * 1e3:.1f} "
              f"ms/image (error {gap:.1e}); ratio {gradient / invertible:.0f}x evaluations, "
              f"{gradient_s / invertible_s:.0f}x time")

    # Equal work: the bare loop runs the forward and inverse passes the counter saw the pipeline run (the
    # served-rounding search's backward passes are not in the bare loop: its share is a lower bound).
    build_s, write_s, forward, inverse = results["counterfactual"]
    bare_s = bare_forward_inverse(model, images, forward, inverse, layout.batch_size, device)
    print(f"equal work ({forward} forward + {inverse} inverse passes): bare {bare_s:.2f} s, counterfactual grid "
          f"pipeline {build_s + write_s:.2f} s (selection, generation, served rounding with its backward passes, "
          f"PNGs, composite, manifest) = {100 * bare_s / (build_s + write_s):.0f}% of bare throughput kept")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", default=str(shipped_path("two4two-seed64")))
    parser.add_argument("--held-out", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("all", "cpu", "cuda"), default="all",
                        help="all: CPU, then CUDA when present")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    loaded = checkpoint_read(args.checkpoint)
    size = loaded.model.config.image_size
    print(f"checkpoint {loaded.path.name} (sha256 {loaded.sha256[:12]}…), {size} px, "
          f"validation accuracy {loaded.metrics.get('val_accuracy', float('nan')):.3f}")
    started = time.perf_counter()
    # The checkpoint's validation stream, as the demo's grids draw it (--held-out 3000: exactly the demo's images).
    dataset = loaded.dataset or {}
    seed = int(dataset.get("val_seed", int(dataset.get("seed", 0)) + VALIDATION_SEED_OFFSET))
    images, _, _ = two4two.sample(args.held_out, seed, dataset.get("sampler", "study"), size)
    print(f"render {args.held_out} held-out images at {size} px: {time.perf_counter() - started:.1f} s")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device")
    if args.device in ("all", "cpu"):
        run(loaded.model, torch.device("cpu"), images)
    if args.device in ("all", "cuda") and torch.cuda.is_available():
        run(loaded.model, torch.device("cuda"), images)


if __name__ == "__main__":
    main()

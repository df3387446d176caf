"""ECINN vs a gradient-based counterfactual: network evaluations and wall time per counterfactual.

ECINN (seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.3): one forward and one inverse pass.
Baseline: gradient descent in input space on the cross-entropy towards the target class (Adam, lr 0.01,
pixels clamped to [0, 1]) until the target class wins, at most 1000 iterations; each iteration is one
forward and one backward pass. Both run on the same IB-INN (digits), one counterfactual at a time (batch 1,
as an interactive explainer would), targets cycling over the other classes.

    python bench/ecinn.py [--checkpoint PATH] [--n 40] [--threads 2]

Without --checkpoint a small digits IB-INN (8×8 raw digits) is trained first (its time is printed).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyserver.settings")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def gradient_counterfactual(model, x, target, max_iterations=1000, lr=0.01):
    """Returns (counterfactual, forward passes, backward passes, success)."""
    current = x.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([current], lr=lr)
    target_t = torch.tensor([target])
    forwards = backwards = 0
    for _ in range(max_iterations):
        logits = model.class_logits(current)
        forwards += 1
        if int(logits.argmax(1)) == target:
            return current.detach(), forwards, backwards, True
        loss = torch.nn.functional.cross_entropy(logits, target_t)
        optimizer.zero_grad()
        loss.backward()
        backwards += 1
        optimizer.step()
        with torch.no_grad():
            current.clamp_(0, 1)
    return current.detach(), forwards, backwards, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from explainers.core.methods.ecinn import ecinn_counterfactual
    from explainers.core.nets.ibinn import IBINNConfig
    from explainers.core.pixels import to_tensor
    from explainers.core.training.checkpoints import checkpoint_read
    from explainers.core.training.ibinn import IBINNTrainConfig, dataset_arrays
    from explainers.core.training.loop import evaluate, train

    if args.checkpoint:
        loaded = checkpoint_read(args.checkpoint)
        model, config = loaded.model, loaded.config
        data = dataset_arrays(config)
    else:
        config = IBINNTrainConfig(net=IBINNConfig(image_size=8, levels=1, steps_per_level=1, hidden_channels=16,
                                                  dense_steps=2, dense_hidden=128),
                                  dataset="digits", steps=300, batch_size=64, learning_rate=3e-3, warmup_steps=20,
                                  eval_every=1000)
        data = dataset_arrays(config)
        started = time.perf_counter()
        model = train(config, data=data).model
        print(f"trained digits IB-INN ({config.net.image_size} px, {config.steps} steps) in "
              f"{time.perf_counter() - started:.1f} s")
    model.eval()
    print("test accuracy", round(evaluate(model, data["test_images"], data["test_labels"],
                                                prefix="test")["test_accuracy"], 4))
    x_all = to_tensor(data["test_images"][: args.n])
    with torch.no_grad():
        predicted = model.predict(x_all)
    targets = [(int(p) + 1 + i % 9) % 10 for i, p in enumerate(predicted)]

    ecinn_times, ecinn_hits = [], 0
    for i in range(args.n):
        started = time.perf_counter()
        result = ecinn_counterfactual(model, x_all[i:i + 1], targets[i], alpha="alpha1")
        ecinn_times.append(time.perf_counter() - started)
        with torch.no_grad():
            ecinn_hits += int(model.predict(result.counterfactuals.clamp(0, 1))[0] == targets[i])

    grad_times, forwards, backwards, grad_hits = [], [], [], 0
    for i in range(args.n):
        started = time.perf_counter()
        _, f, b, ok = gradient_counterfactual(model, x_all[i:i + 1], targets[i])
        grad_times.append(time.perf_counter() - started)
        forwards.append(f)
        backwards.append(b)
        grad_hits += ok

    ecinn_ms = 1000 * np.mean(ecinn_times)
    grad_ms = 1000 * np.mean(grad_times)
    grad_evals = np.mean(np.array(forwards) + np.array(backwards))
    print(f"\n{args.n} counterfactuals, batch 1, {torch.get_num_threads()} torch threads")
    print(f"{'':34}{'ECINN (alpha1)':>16}{'gradient descent':>18}{'ratio':>9}")
    print(f"{'network evaluations / cf (mean)':34}{2:>16.1f}{grad_evals:>18.1f}{grad_evals / 2:>9.1f}")
    print(f"{'  forward + inverse / backward':34}{'1 + 1':>16}{f'{np.mean(forwards):.1f} + {np.mean(backwards):.1f}':>18}")
    print(f"{'  max evaluations':34}{2:>16d}{int(np.max(np.array(forwards) + np.array(backwards))):>18d}")
    print(f"{'wall time / cf (ms, mean)':34}{ecinn_ms:>16.2f}{grad_ms:>18.2f}{grad_ms / ecinn_ms:>9.1f}")
    print(f"{'target class reached (clamped)':34}{ecinn_hits / args.n:>16.2%}{grad_hits / args.n:>18.2%}")


if __name__ == "__main__":
    main()

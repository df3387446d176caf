"""Explainers-core benchmarks: renderer images/s (one core), training steps/s, encode/decode throughput.

Run: python bench/explainers.py [--size 32] [--threads 2]. Prints figures; record them in docs/BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    import torch

    from explainers.core.datasets import two4two
    from explainers.core.nets.glow import GlowClassifier
    from explainers.core.pixels import to_tensor
    from explainers.core.training.glow import PRESETS

    torch.set_num_threads(1)
    for size in (32, 64):
        two4two.sample(10, seed=0, size=size)
        start = time.perf_counter()
        two4two.sample(300, seed=1, size=size)
        print(f"renderer {size} px, 1 thread: {300 / (time.perf_counter() - start):.0f} images/s")

    torch.set_num_threads(args.threads)
    images, labels, _ = two4two.sample(256, seed=2, size=args.size)
    for name in ("quick", "demo"):
        config = PRESETS[name]
        net = config.net if config.net.image_size == args.size else type(config.net)(
            **{**config.net.to_dict(), "image_size": args.size})
        torch.manual_seed(0)
        model = GlowClassifier(net)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        batch = config.batch_size
        x = to_tensor(images[:batch])
        y = torch.from_numpy(labels[:batch]).float()

        def step() -> None:
            out = model(x)
            loss = out.bits_per_dim.mean() + torch.nn.functional.binary_cross_entropy_with_logits(out.logit, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        rate = args.steps / (time.perf_counter() - start)
        print(f"training [{name}: {net}] batch {batch}, {args.threads} threads: {rate:.2f} steps/s "
              f"({1000 / rate:.0f} ms/step)")
        model.eval()
        x_all = to_tensor(images)
        with torch.no_grad():
            model.encode(x_all[:8])
            start = time.perf_counter()
            latent = model.encode(x_all)
            encode_rate = len(x_all) / (time.perf_counter() - start)
            start = time.perf_counter()
            model.decode(latent)
            decode_rate = len(x_all) / (time.perf_counter() - start)
        print(f"  encode {encode_rate:.0f} images/s, decode {decode_rate:.0f} images/s (batch {len(x_all)})")
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()}")


if __name__ == "__main__":
    main()

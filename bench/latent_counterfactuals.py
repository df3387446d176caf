"""Latent-space counterfactuals at 64 px on a GPU: train the generators and classifiers, then compare.

Trains (skipping any checkpoint already in OUT) the VAE of all images and the two class-only VAEs of the
realism measure, the explained CNN, an ensemble member (another seed) and the oracle CNN, all at 64 px on one
shared 3 000-image training stream, then compares every counterfactual method on held-out images, the
shipped seed64 Glow included, with the native 64 px parameter read-out. Plain torch (explainers.core only),
so it runs where Django is not installed (the lent GPU machine); about 3 minutes on one H100/H200.

    TWO4TWO_RENDER_WORKERS=16 PYTHONPATH=. python bench/latent_counterfactuals.py [--out DIR] [--n 32]
    PYTHONPATH=. python bench/latent_counterfactuals.py --smoke --device cpu   # 16 px, 2 steps: the wiring

With the device tool: run(command="TWO4TWO_RENDER_WORKERS=16 PYTHONPATH=. python3 bench/latent_counterfactuals.py
--out $OUT/latent-cf", timeout_s=420).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

#: name -> (preset, overrides): one training stream (study sampler, seed 0, 3 000 images) for all but the
#: oracle, which sees the unbiased sampler with its own seed.
MODELS = {
    "vae": ("vae-two4two", {"steps": 2000}),
    "vae-class0": ("vae-two4two-class0", {"steps": 1200}),
    "vae-class1": ("vae-two4two-class1", {"steps": 1200}),
    "cnn": ("cnn-two4two-biased-64", {"steps": 800}),
    "cnn-s1": ("cnn-two4two-biased-64", {"steps": 800, "seed": 1}),
    "cnn-oracle": ("cnn-two4two-oracle-64", {"steps": 800}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="var/latent-cf")
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="16 px, 64 images, 2 steps, no Glow")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from explainers.core.evaluation.counterfactual_comparison import format_table
    from explainers.core.evaluation.counterfactual_setup import comparison_from_checkpoints
    from explainers.core.training.families import preset_config
    from explainers.core.training.run import train_to_checkpoint
    from explainers.core.training.shipped import SHIPPED_DIR

    out = Path(args.out)
    cache = out / "datasets"
    size, train_size, val_size = (16, 64, 16) if args.smoke else (64, 3000, 1000)
    paths = {}
    for name, (preset, overrides) in MODELS.items():
        paths[name] = out / f"{name}.pt"
        if paths[name].exists():
            continue
        settings = {**overrides, "image_size": size, "train_size": train_size, "val_size": val_size}
        if args.smoke:
            settings["steps"] = 2
        started = time.perf_counter()
        loaded = train_to_checkpoint(preset_config(preset, **settings), paths[name], cache_dir=cache,
                                     device=args.device, num_threads=args.threads)
        quality = {k: round(v, 5) for k, v in loaded.metrics.items()
                   if k in ("val_mse", "val_psnr", "val_kl", "val_accuracy")}
        print(f"{name}: {preset} {json.dumps(quality)} in {time.perf_counter() - started:.1f} s", flush=True)
    glow = None if args.smoke else SHIPPED_DIR / "two4two-seed64.pt"
    started = time.perf_counter()
    rows, files = comparison_from_checkpoints(
        classifier=paths["cnn"], oracle=paths["cnn-oracle"], vae=paths["vae"],
        class_vaes={0: paths["vae-class0"], 1: paths["vae-class1"]}, ensemble=[paths["cnn-s1"]], glow=glow,
        n=args.n, reference=2 * val_size if args.smoke else 2000, max_iterations=2 if args.smoke else 500,
        device=args.device, out=out / "comparison", figure=out / "comparison-rows.png", cache_dir=cache,
        progress=lambda row: print(f"{row['method']} done", flush=True))
    print(format_table(rows))
    print(f"comparison {time.perf_counter() - started:.1f} s on {args.device}; files {json.dumps(files)}")


if __name__ == "__main__":
    main()

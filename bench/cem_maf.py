"""CEM-MAF on Two4Two: pertinent negatives and positives of the shipped 64 px model, with their numbers.

Luss et al. (seeds/cem-maf-contrastive-explanations.txt, sections 3-4): a PN must flip the class while no
attribute decreases; a PP keeps the class with few superpixels. Printed: PN rate found / flipped on the 8-bit
image, attributes added per PN, largest attribute decrease, latent and pixel distance; PP superpixels kept,
share of pixels kept, class kept; seconds per explanation. Attributes are read by the shipped Two4Two read-out.

    python bench/cem_maf.py [--vae PATH] [--n 8] [--vae-steps 300] [--threads 1] [--figure FILE]

Without --vae a small VAE is trained first (the demo's fallback: vae-two4two, --vae-steps steps on 1 500
images) and cached at /tmp/cem-maf-bench-vae-<steps>.pt; its time is printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studyserver.settings")

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vae", type=Path)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--vae-steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--figure", type=Path)
    parser.add_argument("--pn", default='{"steps": 20, "search_steps": 2, "learning_rate": 0.05}')
    parser.add_argument("--pp", default='{"segments": 24, "steps": 20, "search_steps": 1}')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import json

    from explainers.core import pixels
    from explainers.core.datasets import two4two
    from explainers.core.methods import method_config, method_get
    from explainers.core.methods._attributes import two4two_attributes
    from explainers.core.training.checkpoints import checkpoint_read
    from explainers.core.training.run import train_to_checkpoint
    from explainers.core.training.shipped import SHIPPED_DIR
    from explainers.core.training.vae import preset as vae_preset

    model = checkpoint_read(SHIPPED_DIR / "two4two-seed64.pt").model.eval()
    size = model.config.image_size
    vae_path = args.vae or Path(f"/tmp/cem-maf-bench-vae-{args.vae_steps}.pt")
    if not vae_path.exists():
        config = vae_preset("vae-two4two", steps=args.vae_steps, train_size=1500, val_size=200)
        config = replace(config, net=replace(config.net, image_size=size))
        started = time.perf_counter()
        train_to_checkpoint(config, vae_path)
        print(f"VAE trained: {args.vae_steps} steps in {time.perf_counter() - started:.0f} s")
    vae_loaded = checkpoint_read(vae_path)
    vae = vae_loaded.model.eval()
    metrics = {k: round(v, 4) for k, v in vae_loaded.metrics.items() if isinstance(v, float)}
    print(f"VAE {vae_path.name}: metrics {json.dumps(metrics)}")
    images, labels, _ = two4two.sample(args.n, 424242, "study", size)
    attributes = two4two_attributes()
    x = pixels.to_tensor(images)

    pn = method_get("cem_maf_pn")(method_config("cem_maf_pn", {"generator_model": 1, **json.loads(args.pn)}))
    started = time.perf_counter()
    negatives = pn.explain(model, images, auxiliaries={"generator": vae}, attributes=attributes)
    pn_seconds = (time.perf_counter() - started) / args.n
    pn_images = pixels.to_tensor(pixels.to_uint8(negatives.images[:, 0]))
    with torch.no_grad():
        before = model.logit(x) > 0
        after = model.logit(pn_images) > 0
        towards = torch.tensor(negatives.extra["target_class"])
        decrease = (attributes.values(x, towards) - attributes.values(pn_images, towards)).max(1).values
    found = np.array(negatives.extra["pn_found"])
    print(f"PN: found {found.mean():.0%} ({found.sum()}/{args.n}); flipped on the served image "
          f"{(before != after).float().mean():.0%}; attributes added per PN "
          f"{np.mean([len(a) for a, f in zip(negatives.extra['attributes_added'], found) if f] or [np.nan]):.2f}; "
          f"largest attribute decrease (read-out std units) median {decrease.median():.3f}, max {decrease.max():.3f}; "
          f"pixel L1 mean {np.mean(negatives.extra['pixel_l1']):.4f}; {pn_seconds:.2f} s per PN")
    for text in negatives.extra["pn_text"][:4]:
        print("   ", text)

    pp = method_get("cem_maf_pp")(method_config("cem_maf_pp", json.loads(args.pp)))
    started = time.perf_counter()
    positives = pp.explain(model, images, attributes=attributes)
    pp_seconds = (time.perf_counter() - started) / args.n
    with torch.no_grad():
        kept = (model.logit(pixels.to_tensor(pixels.to_uint8(positives.images[:, 0]))) > 0) == before
    relaxed_zeros = np.mean([np.mean(np.array(m) == 0) for m in positives.extra["pp_relaxed_mask"]])
    print(f"PP: class kept {kept.float().mean():.0%}; superpixels kept mean "
          f"{np.mean(positives.extra['pp_superpixels_kept']):.1f} of {np.mean(positives.extra['pp_superpixels']):.1f}; "
          f"pixels kept {np.mean(positives.extra['pp_pixel_share']):.0%}; exact zeros in the ISTA mask "
          f"{relaxed_zeros:.0%}; {pp_seconds:.2f} s per PP")
    if args.figure:
        from PIL import Image

        rows = [np.concatenate([images[i], pixels.to_uint8(negatives.images[i:i + 1, 0])[0],
                                pixels.to_uint8(positives.images[i:i + 1, 0])[0]], 1) for i in range(min(4, args.n))]
        Image.fromarray(np.concatenate(rows, 0)).resize((3 * 128, 128 * len(rows)), Image.NEAREST).save(args.figure)
        print(f"figure (original | PN | PP per row): {args.figure}")


if __name__ == "__main__":
    main()

"""The seed's section 3.2 comparison (Figure 3) for a Glow checkpoint: table, JSON and figure."""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Integrate the raw gradient, SmoothGrad and the directional derivative d phi^-1/dw on held-out images "
            "and report the logit change and the change of unrelated factors xi = E z (Sixt et al., sec. 3.2).")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", required=True, help="Glow checkpoint (relative: under ARTIFACTS_ROOT)")
        parser.add_argument("--n", type=int, default=100, help="held-out samples (default 100)")
        parser.add_argument("--reference", type=int, default=500, help="images for the principal components")
        parser.add_argument("--steps", type=int, default=10, help="Euler steps")
        parser.add_argument("--logit-change", type=float, default=2.0, help="first-order logit gain in total")
        parser.add_argument("--smoothgrad-samples", type=int, default=10)
        parser.add_argument("--components", type=int, default=16, help="principal components forming xi")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--out", default="attribution_comparison", help="output folder (relative: under MEDIA_ROOT)")

    def handle(self, *args, **options):
        import torch
        from django.conf import settings

        from explainers.attribution_comparison import ComparisonSettings, compare, format_table, write_outputs
        from explainers.datasets import two4two
        from explainers.services import CheckpointError, checkpoint_load
        from explainers.training import to_tensor

        if options["n"] < 1 or options["reference"] < 2:
            raise CommandError("--n must be >= 1 and --reference >= 2")
        torch.set_num_threads(options["threads"])
        try:
            loaded = checkpoint_load(options["checkpoint"])
            comparison = ComparisonSettings(steps=options["steps"], logit_change=options["logit_change"],
                                            smoothgrad_samples=options["smoothgrad_samples"],
                                            components=options["components"], seed=options["seed"])
        except (CheckpointError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        model = loaded.model
        if not hasattr(model, "weight") or getattr(model, "num_classes", 2) != 2:
            raise CommandError("the comparison needs a binary classifier with a weight vector w (a Glow checkpoint)")
        dataset = loaded.dataset
        if dataset.get("kind", "two4two") != "two4two":
            raise CommandError(f"the comparison samples Two4Two images; this checkpoint was trained on {dataset.get('kind')!r}")
        size = int(dataset.get("size", model.config.image_size))
        seed = int(dataset.get("val_seed", 1_000_003)) + 17 + options["seed"]
        images, _, _ = two4two.sample(options["n"] + options["reference"], seed, dataset.get("sampler", "study"), size)
        dtype = next(model.parameters()).dtype
        x = to_tensor(images[: options["n"]], dtype)
        reference = to_tensor(images[options["n"]:], dtype)
        results = compare(model, x, reference=reference, settings=comparison,
                          progress=lambda method: self.stderr.write(f"integrating {method} ..."))
        out = Path(options["out"])
        out = out if out.is_absolute() else Path(settings.MEDIA_ROOT) / out
        results["checkpoint"] = {"path": str(loaded.path), "sha256": loaded.sha256}
        files = write_outputs(results, x, out)
        self.stdout.write(format_table(results))
        self.stdout.write(json.dumps(files, indent=2))

"""Train the IB-INN style class-conditional classifier (digits or Two4Two) and write a checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Train the class-conditional invertible classifier used by ECINN; writes a verified checkpoint file."

    def add_arguments(self, parser):
        from explainers.ibinn_training import IBINN_PRESETS

        parser.add_argument("--preset", default="digits", choices=sorted(IBINN_PRESETS))
        parser.add_argument("--steps", type=int, default=None)
        parser.add_argument("--size", type=int, default=None, help="image size in pixels (default: preset's)")
        parser.add_argument("--beta", type=float, default=None, help="IB trade-off beta (default 1)")
        parser.add_argument("--train-size", type=int, default=None, help="Two4Two training images")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--out", required=True, help="checkpoint path (relative paths: under ARTIFACTS_ROOT)")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--register", default="", help="also create the Checkpoint row with this name")

    def handle(self, *args, **options):
        import torch
        from django.conf import settings

        from explainers.ibinn_training import ibinn_preset, ibinn_train_to_checkpoint
        from explainers.services import checkpoint_register

        torch.set_num_threads(options["threads"])
        out = Path(options["out"])
        out = out if out.is_absolute() else Path(settings.ARTIFACTS_ROOT) / out

        def progress(step: int, total: int, metrics: dict[str, float]) -> None:
            if step % 100 == 0 or step == total:
                shown = {k: round(v, 3) for k, v in metrics.items() if "accuracy" in k or k == "bits_per_dim"}
                self.stderr.write(f"step {step}/{total} {shown}")

        try:
            config = ibinn_preset(options["preset"], steps=options["steps"], image_size=options["size"],
                                  beta=options["beta"], train_size=options["train_size"], seed=options["seed"])
            loaded = ibinn_train_to_checkpoint(config, out, cache_dir=Path(settings.ARTIFACTS_ROOT) / "datasets",
                                               progress=progress, num_threads=options["threads"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        summary = {"path": str(loaded.path), "sha256": loaded.sha256, "metrics": loaded.metrics}
        if options["register"]:
            summary["checkpoint_id"] = checkpoint_register(path=loaded.path, name=options["register"]).pk
        self.stdout.write(json.dumps(summary, indent=2, default=float))

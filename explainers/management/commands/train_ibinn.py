"""Train the IB-INN style class-conditional classifier (digits or Two4Two) and write a checkpoint."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Train the class-conditional invertible classifier used by ECINN; writes a verified checkpoint file."

    def add_arguments(self, parser):
        from explainers.core.training.ibinn import IBINN_PRESETS

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
        from explainers.services.checkpoints import checkpoint_register
        from explainers.services.training import ibinn_model_train

        def progress(step: int, total: int, metrics: dict[str, float]) -> None:
            if step % 100 == 0 or step == total:
                shown = {k: round(v, 3) for k, v in metrics.items() if "accuracy" in k or k == "bits_per_dim"}
                self.stderr.write(f"step {step}/{total} {shown}")

        try:
            loaded = ibinn_model_train(out=options["out"], preset=options["preset"], steps=options["steps"],
                                       image_size=options["size"], beta=options["beta"],
                                       train_size=options["train_size"], seed=options["seed"],
                                       num_threads=options["threads"], progress=progress)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        summary = {"path": str(loaded.path), "sha256": loaded.sha256, "metrics": loaded.metrics}
        if options["register"]:
            summary["checkpoint_id"] = checkpoint_register(path=loaded.path, name=options["register"]).pk
        self.stdout.write(json.dumps(summary, indent=2, default=float))

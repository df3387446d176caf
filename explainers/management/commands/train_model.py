"""Train any model family's preset (Glow, IB-INN, CNN, ...) and write a checkpoint (explainers.services.training)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from explainers.management.progress import StepProgressBar


class Command(BaseCommand):
    help = "Train a model family's preset (Glow, IB-INN, CNN, ...); writes a verified checkpoint file."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", default=None, choices=["two4two", "digits"],
                            help="the dataset (default: the preset's; a family that cannot train on it refuses)")
        parser.add_argument("--preset", default="seed64",
                            help="any family's preset (explainers.core.training.families.all_presets), e.g. "
                                 "seed64 (the demo study's Glow, ~15 min on 2 cores), seed64-supervised, seed128 "
                                 "(GPU), demo, quick (tiny Glow, < 90 s); cnn-two4two-biased, cnn-two4two-unbiased, "
                                 "cnn-two4two-oracle (plain CNNs, a few minutes), their -64 variants (GPU), "
                                 "cnn-digits; the IB-INN presets digits, two4two")
        parser.add_argument("--device", default="auto",
                            help="torch device: auto (CUDA when present, else CPU), cpu, cuda, cuda:1, ...")
        parser.add_argument("--size", type=int, default=None, help="image size in pixels (default: preset's)")
        parser.add_argument("--steps", type=int, default=None, help="training steps (default: preset's)")
        parser.add_argument("--sampler", default=None, choices=["study", "unbiased"])
        parser.add_argument("--dataset-seed", type=int, default=None)
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--train-size", type=int, default=None, help="training images (default: preset's)")
        parser.add_argument("--val-size", type=int, default=None, help="validation images (default: preset's)")
        parser.add_argument("--out", required=True, help="checkpoint path (relative paths: under ARTIFACTS_ROOT)")
        parser.add_argument("--resume", action="store_true", help="continue the run stored in --out")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--register", default="",
                            help="also create the Checkpoint row and the registered model with this name")
        parser.add_argument("--owner", default="", help="username owning the registered model (default: none)")
        parser.add_argument("--ship", default="", metavar="NAME",
                            help="also copy the weights into explainers/checkpoints/NAME.pt with its recipe and "
                                 "metrics (NAME.json): how the demo's shipped model is made")

    def handle(self, *args, **options):
        from explainers.services.checkpoints import checkpoint_register
        from explainers.services.classifiers import model_register_checkpoint
        from explainers.services.training import model_train

        owner = self._owner(options["owner"])
        progress = StepProgressBar(self.stderr._out, description="train", shown=(
            "bits_per_dim", "cross_entropy", "accuracy", "val_accuracy"))

        try:
            loaded = model_train(
                out=options["out"], preset=options["preset"], image_size=options["size"], steps=options["steps"],
                sampler=options["sampler"], dataset=options["dataset"], dataset_seed=options["dataset_seed"],
                seed=options["seed"],
                train_size=options["train_size"], val_size=options["val_size"],
                resume=options["resume"], num_threads=options["threads"], progress=progress,
                device=options["device"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        summary = {"path": str(loaded.path), "sha256": loaded.sha256, "metrics": loaded.metrics}
        if options["ship"]:
            import sys

            from explainers.core.training.shipped import shipped_write

            command = "python manage.py train_model " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else \
                f"python manage.py train_model --preset {options['preset']} --ship {options['ship']}"
            summary["shipped"] = str(shipped_write(loaded, options["ship"], command=command))
        if options["register"]:
            from django.core.exceptions import ValidationError

            try:
                checkpoint = checkpoint_register(path=loaded.path, name=options["register"], owner=owner)
                registered = model_register_checkpoint(owner=owner, checkpoint=checkpoint, name=options["register"])
            except ValidationError as exc:
                raise CommandError(f"trained, but not registered: {exc}") from exc
            summary.update(checkpoint_id=checkpoint.pk, model_id=registered.pk, model_kind=registered.kind)
        self.stdout.write(json.dumps(summary, indent=2, default=float))

    @staticmethod
    def _owner(username: str):
        if not username:
            return None
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        return user

"""Train a progressive-exaggeration explainer for a registered classifier (see explainers.services.exaggeration)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from explainers.management.progress import StepProgressBar


def registered_model(value: str):
    """A RegisteredModel by id, or by name (the newest of that name)."""
    from explainers.models import RegisteredModel

    models = RegisteredModel.objects.select_related("dataset", "checkpoint")
    found = models.filter(pk=int(value)).first() if value.isdigit() else \
        models.filter(name=value).order_by("-pk").first()
    if found is None:
        raise CommandError(f"no registered model {value!r} (give its id or name; see manage.py model_register)")
    return found


class Command(BaseCommand):
    help = "Train the progressive-exaggeration explainer of a registered classifier; writes a verified checkpoint."

    def add_arguments(self, parser):
        from explainers.core.training.exaggeration import EXPLAINER_PRESETS

        parser.add_argument("--classifier", required=True, help="the registered classifier to explain (id or name)")
        parser.add_argument("--preset", default="exaggeration-two4two-32", choices=sorted(EXPLAINER_PRESETS),
                            help="exaggeration-two4two-32 (2 CPU cores, ~20 min), exaggeration-two4two-64 (GPU)")
        parser.add_argument("--steps", type=int, default=None, help="generator updates (default: preset's)")
        parser.add_argument("--target-class", type=int, default=None,
                            help="the class whose posterior is exaggerated (default: 1 of two classes)")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--minutes", type=float, default=None,
                            help="stop after this many minutes (the file records the steps done; --resume continues)")
        parser.add_argument("--device", default="auto", help="torch device: auto (CUDA when present), cpu, cuda, ...")
        parser.add_argument("--out", required=True, help="checkpoint path (relative paths: under ARTIFACTS_ROOT)")
        parser.add_argument("--resume", action="store_true", help="continue the run stored in --out")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--register", default="", help="also register the explainer under this name")

    def handle(self, *args, **options):
        from django.core.exceptions import ValidationError
        from explainers.core.errors import CheckpointError
        from explainers.services.exaggeration import explainer_register, explainer_train

        classifier = registered_model(options["classifier"])
        progress = StepProgressBar(self.stderr._out, description="explainer", shown=(
            "d_loss", "kl", "reconstruction", "val_correlation", "val_mean_abs_gap"))

        minutes = options["minutes"]
        try:
            loaded = explainer_train(
                classifier=classifier, out=options["out"], preset=options["preset"], steps=options["steps"],
                target_class=options["target_class"], seed=options["seed"], resume=options["resume"],
                num_threads=options["threads"], device=options["device"], progress=progress,
                time_limit_s=minutes * 60 if minutes else None)
        except ValidationError as exc:
            raise CommandError("; ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        except (ValueError, CheckpointError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        summary = {"path": str(loaded.path), "sha256": loaded.sha256, "explains": classifier.name,
                   "metrics": loaded.metrics}
        if options["register"]:
            try:
                model = explainer_register(classifier=classifier, path=loaded.path, name=options["register"],
                                           owner=classifier.owner)
            except ValidationError as exc:
                raise CommandError(f"trained, but not registered: {exc}") from exc
            summary["model_id"] = model.pk
        self.stdout.write(json.dumps(summary, indent=2, default=float))

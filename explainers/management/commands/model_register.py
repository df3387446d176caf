"""Register a trained classifier (TorchScript or torch.export) for a dataset; prints its id and accuracy."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from explainers.management.commands.dataset_import import command_owner, validation_message


def _numbers(text: str) -> list[float] | None:
    try:
        return [float(v) for v in text.split(",")] if text else None
    except ValueError:
        raise CommandError(f"expected comma-separated numbers, got {text!r}") from None


class Command(BaseCommand):
    help = ("Register a classifier file: loads it without unpickling anything, runs a batch of the dataset "
            "through it, checks its output against the class names, records its sha256 and held-out accuracy.")

    def add_arguments(self, parser):
        parser.add_argument("file", help="a TorchScript (.pt/.ts) or torch.export (.pt2) file")
        parser.add_argument("--dataset", type=int, required=True, help="id of the dataset (see dataset_import)")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", default="")
        parser.add_argument("--kind", default="differentiable", choices=["differentiable", "generator"])
        parser.add_argument("--input-size", default="", help="C,H,W the model takes (default: the dataset's)")
        parser.add_argument("--mean", default="", help="per-channel mean subtracted from images in [0, 1]")
        parser.add_argument("--std", default="", help="per-channel standard deviation images are divided by")
        parser.add_argument("--classes", default="", help="comma-separated class names (default: the dataset's)")
        parser.add_argument("--no-evaluate", action="store_true", help="skip the held-out accuracy")

    def handle(self, *args, **options):
        from explainers.models import Dataset
        from explainers.services.classifiers import model_register

        owner = command_owner(options["owner"])
        datasets = Dataset.objects.all() if owner is None or owner.is_superuser else Dataset.objects.filter(owner=owner)
        dataset = datasets.filter(pk=options["dataset"]).first()
        if dataset is None:
            raise CommandError(f"no dataset {options['dataset']} of yours")
        input_size = [int(v) for v in _numbers(options["input_size"]) or []] or None
        classes = [c.strip() for c in options["classes"].split(",") if c.strip()] or None
        try:
            model = model_register(owner=owner, source=options["file"], name=options["name"], dataset=dataset,
                                   kind=options["kind"], input_shape=input_size, mean=_numbers(options["mean"]),
                                   std=_numbers(options["std"]), class_names=classes,
                                   evaluate=not options["no_evaluate"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        accuracy = "not evaluated" if model.accuracy is None else f"{model.accuracy:.3f} on the test split"
        self.stdout.write(f"model {model.pk}: {model.name} ({model.get_file_format_display()}), sha256 "
                          f"{model.sha256[:12]}…, capabilities {', '.join(model.capabilities)}, accuracy {accuracy}")

"""Register a dataset: a folder or zip of the researcher's images, or the digits / Two4Two sources."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


def command_owner(username: str):
    """The user named ``username`` (None for an empty name); CommandError when there is none."""
    if not username:
        return None
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"no user named {username!r}") from None


def validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = ("Import a folder or zip of images (labels.csv with filename,label[,attributes...] or one sub-folder "
            "per class), or register the scikit-learn digits or Two4Two as a dataset. Prints the dataset id.")

    def add_arguments(self, parser):
        parser.add_argument("source", help="a folder or .zip of images, or 'digits' or 'two4two'")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", default="", help="username of the owning researcher")
        parser.add_argument("--classes", default="", help="comma-separated class names in output order "
                                                          "(default: the labels found, sorted)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the split (and of Two4Two's renderer)")
        parser.add_argument("--val-fraction", type=float, default=0.1)
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--size", type=int, default=16, help="digits / Two4Two: image size in pixels")
        parser.add_argument("--sampler", default="study", help="Two4Two: study or unbiased")
        parser.add_argument("--count", type=int, default=2000, help="Two4Two: images to draw")

    def handle(self, *args, **options):
        from explainers.services.datasets import dataset_import, dataset_register_builtin

        owner = command_owner(options["owner"])
        try:
            if options["source"] in ("digits", "two4two"):
                dataset = dataset_register_builtin(owner=owner, source=options["source"], name=options["name"],
                                                   size=options["size"], seed=options["seed"],
                                                   sampler=options["sampler"], count=options["count"])
            else:
                classes = [c.strip() for c in options["classes"].split(",") if c.strip()] or None
                dataset = dataset_import(owner=owner, source=options["source"], name=options["name"],
                                         class_names=classes, seed=options["seed"],
                                         val_fraction=options["val_fraction"], test_fraction=options["test_fraction"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(f"dataset {dataset.pk}: {dataset.name} ({dataset.get_kind_display()}), "
                          f"{dataset.image_count} images of {dataset.image_shape}, classes {dataset.class_names}, "
                          f"splits {dataset.splits}, sha256 {dataset.content_sha256[:12] or '-'}")

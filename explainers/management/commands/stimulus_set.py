"""Create a stimulus set: one explanation per image of a registered model, or a zip of the researcher's images."""
from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from explainers.management.commands.dataset_import import command_owner, validation_message


class Command(BaseCommand):
    help = ("Generate a stimulus set with an explanation method (grad_cam, integrated_gradients, smoothgrad, "
            "saliency_gradient, lime, example_based) for a registered model, through the Celery task that builds "
            "grids; or, with --upload, publish a zip of images (optional metadata.csv) as a stimulus set.")

    def add_arguments(self, parser):
        parser.add_argument("--model", type=int, help="id of the registered model (see model_register)")
        parser.add_argument("--method", default="", help="a registered explanation method")
        parser.add_argument("--parameters", default="{}", help="the method's parameters as a JSON object")
        parser.add_argument("--split", default="test", help="dataset split the images come from")
        parser.add_argument("--count", type=int, default=20, help="images to explain (drawn with --seed)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--upload", default="", help="a zip or folder of stimulus images instead")
        parser.add_argument("--name", default="")
        parser.add_argument("--owner", default="")

    def handle(self, *args, **options):
        from explainers.models import RegisteredModel, StimulusGrid
        from explainers.services.stimulus_sets import stimulus_set_create, stimulus_set_upload

        owner = command_owner(options["owner"])
        try:
            if options["upload"]:
                stimulus_set = stimulus_set_upload(owner=owner, source=options["upload"], name=options["name"])
            else:
                models = RegisteredModel.objects.all() if owner is None or owner.is_superuser \
                    else RegisteredModel.objects.filter(owner=owner)
                model = models.filter(pk=options["model"]).first()
                if model is None:
                    raise CommandError(f"no registered model {options['model']} of yours (give --model)")
                try:
                    parameters = json.loads(options["parameters"])
                except json.JSONDecodeError as exc:
                    raise CommandError(f"--parameters is not JSON: {exc}") from exc
                stimulus_set = stimulus_set_create(owner=owner, model=model, method=options["method"],
                                                   name=options["name"], parameters=parameters,
                                                   split=options["split"], count=options["count"],
                                                   seed=options["seed"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        stimulus_set = StimulusGrid.objects.get(pk=stimulus_set.pk)
        if stimulus_set.status == StimulusGrid.Status.FAILED:
            raise CommandError(f"stimulus set {stimulus_set.pk} failed: {stimulus_set.error}")
        self.stdout.write(f"stimulus set {stimulus_set.pk}: {stimulus_set.name} [{stimulus_set.status}], "
                          f"{stimulus_set.cells.count()} images in {stimulus_set.directory or '(pending)'}")

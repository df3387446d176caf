"""python manage.py pregenerate_grid --checkpoint PATH_OR_ID --method NAME [--rows 30] [--params JSON] --wait"""
from __future__ import annotations

import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = ("Create a stimulus grid from a checkpoint and pregenerate it (enqueued on the gpu queue, or run "
            "here with --wait and no broker); --wait shows a progress bar until the grid is ready or failed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoint", required=True, help="Checkpoint id, or a checkpoint file to register.")
        parser.add_argument("--method", required=True,
                            help="example_based (baseline), counterfactual_interpolation or isofactual.")
        parser.add_argument("--rows", type=int, default=None, help="Rows of the grid (default 30).")
        parser.add_argument("--params", default="{}", help="Method parameters as a JSON object.")
        parser.add_argument("--layout", default="{}", help='Further layout as JSON, e.g. {"percentiles": [20, 60]}.')
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--name", default="")
        parser.add_argument("--owner", default=None, help="Username of the owning researcher.")
        parser.add_argument("--wait", action="store_true", help="Wait with a progress bar until the grid is done.")

    def handle(self, *args, **options) -> str:
        from explainers.models import Checkpoint, StimulusGrid
        from explainers.services.checkpoints import checkpoint_register
        from explainers.services.grids import grid_create

        owner = None
        if options["owner"]:
            try:
                owner = get_user_model().objects.get(username=options["owner"])
            except get_user_model().DoesNotExist:
                raise CommandError(f"no user named {options['owner']!r}") from None
        params = self._json(options["params"], "--params")
        layout = self._json(options["layout"], "--layout")
        if options["rows"] is not None:
            layout["rows"] = options["rows"]

        reference = options["checkpoint"]
        if reference.isdigit():
            checkpoint = Checkpoint.objects.filter(pk=int(reference)).first()
            if checkpoint is None:
                raise CommandError(f"no checkpoint with id {reference}")
        else:
            try:
                checkpoint = checkpoint_register(path=reference, name=reference.rsplit("/", 1)[-1], owner=owner)
            except ValueError as exc:  # CheckpointError
                raise CommandError(str(exc)) from exc

        eager = settings.CELERY_TASK_ALWAYS_EAGER
        try:
            grid = grid_create(owner=owner, checkpoint=checkpoint, method=options["method"], name=options["name"],
                               parameters=params, layout=layout, seed=options["seed"],
                               enqueue=not (eager and options["wait"]))
        except ValidationError as exc:
            raise CommandError("; ".join(f"{field}: {' '.join(errors)}" for field, errors in exc.message_dict.items())
                               if hasattr(exc, "error_dict") else " ".join(exc.messages)) from exc
        self.stdout.write(f"grid {grid.pk} created ({grid.method}, {grid.layout['rows']} × {grid.layout['columns']})")
        if not options["wait"]:
            return f"grid {grid.pk} {StimulusGrid.objects.get(pk=grid.pk).status}"

        from tqdm import tqdm

        with tqdm(total=100, unit="%", desc=f"grid {grid.pk}", file=self.stderr._out) as bar:
            if eager:
                from explainers.services.grid_generation import grid_pregenerate

                def advance(percent: int, stage: str) -> None:
                    bar.set_postfix_str(stage)
                    bar.update(percent - bar.n)

                grid = grid_pregenerate(grid.pk, progress=advance)
            else:
                while True:
                    grid.refresh_from_db()
                    bar.update(grid.progress - bar.n)
                    if grid.status in (StimulusGrid.Status.READY, StimulusGrid.Status.FAILED):
                        break
                    time.sleep(0.5)
            if grid.is_ready:
                bar.update(100 - bar.n)
        if not grid.is_ready:
            raise CommandError(f"grid {grid.pk} failed: {grid.error}")
        self.stdout.write(self.style.SUCCESS(
            f"grid {grid.pk} ready: {grid.cells.count()} cells in {settings.MEDIA_ROOT}/{grid.directory}"))
        return ""

    @staticmethod
    def _json(text: str, flag: str) -> dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"{flag} is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise CommandError(f"{flag} must be a JSON object")
        return value

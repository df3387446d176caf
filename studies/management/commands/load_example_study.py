"""Load the example study fixture (idempotent) and print its participant URL."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from studies.models import Study
from studies.recruitment import study_entry_url

EXAMPLE_OWNER = "example-researcher"
EXAMPLE_SLUG = "example-study"
PLACEHOLDER_IMAGES = {"stimuli/example/baseline.png": (52, 101, 164), "stimuli/example/counterfactual.png": (164, 90, 52)}


def _write_placeholder(path: Path, colour: tuple[int, int, int]) -> None:
    """A small 5-column stand-in for a stimulus grid: shades from one class colour to the other."""
    from PIL import Image, ImageDraw

    columns, rows, cell = 5, 3, 48
    image = Image.new("RGB", (columns * cell, rows * cell), "white")
    draw = ImageDraw.Draw(image)
    for column in range(columns):
        shade = tuple(int(c * (column + 1) / columns + 255 * (1 - (column + 1) / columns)) for c in colour)
        for row in range(rows):
            x, y = column * cell, row * cell
            draw.rectangle([x + 4, y + 4, x + cell - 5, y + cell - 5], fill=shade, outline=(40, 40, 40))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


class Command(BaseCommand):
    help = "Load (or refresh) the example study from studies/fixtures/example_study.json and print its URL."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            # The fixture names its owner by natural key, so the account must exist before loading.
            user, created = get_user_model().objects.get_or_create(username=EXAMPLE_OWNER, defaults={"is_staff": True})
            if created:
                user.set_unusable_password()
                user.save()
            existing = Study.objects.filter(slug=EXAMPLE_SLUG).first()
            if existing is not None and existing.owner_id != user.pk:
                self.stderr.write(f"Study {EXAMPLE_SLUG!r} belongs to {existing.owner}; leaving it alone.")
            else:
                call_command("loaddata", "example_study", verbosity=0)
        for relative, colour in PLACEHOLDER_IMAGES.items():
            path = Path(settings.MEDIA_ROOT) / relative
            if not path.exists():
                _write_placeholder(path, colour)
        study = Study.objects.get(slug=EXAMPLE_SLUG)
        url = study_entry_url(study)
        self.stdout.write(f"Example study {study.slug!r} ({study.status}) with "
                          f"{study.conditions.count()} conditions and {study.items.count()} items.")
        self.stdout.write(f"Participant URL: {url}")

"""Create the example study from its study template (idempotent) and print its participant URL."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from studies.models import Study
from studies.recruitment import study_entry_url
from studies.study_templates import EXAMPLE_TEMPLATE, StudyTemplateError, study_from_template, template_load

EXAMPLE_OWNER = "example-researcher"
# One class colour per condition, so the placeholders of the two conditions are told apart at a glance.
PLACEHOLDER_COLOURS = [(52, 101, 164), (164, 90, 52)]


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
    help = (f"Create the example study from the {EXAMPLE_TEMPLATE!r} study template (live, with placeholder "
            "stimulus images) unless it exists, and print its URL.")

    def handle(self, *args, **options) -> None:
        try:
            template = template_load(EXAMPLE_TEMPLATE)
        except StudyTemplateError as exc:
            raise CommandError(str(exc)) from exc
        images = [spec.image for spec in template.conditions if spec.image]
        for index, relative in enumerate(images):
            path = Path(settings.MEDIA_ROOT) / relative
            if not path.exists():
                _write_placeholder(path, PLACEHOLDER_COLOURS[index % len(PLACEHOLDER_COLOURS)])
        with transaction.atomic():
            user, created = get_user_model().objects.get_or_create(username=EXAMPLE_OWNER, defaults={"is_staff": True})
            if created:
                user.set_unusable_password()
                user.save()
            existing = Study.objects.filter(slug=template.slug).first()
            if existing is None:
                try:
                    study_from_template(template, owner=user, launch=True)
                except StudyTemplateError as exc:
                    raise CommandError(str(exc)) from exc
            elif existing.owner_id != user.pk:
                self.stderr.write(f"Study {template.slug!r} belongs to {existing.owner}; leaving it alone.")
        study = Study.objects.get(slug=template.slug)
        url = study_entry_url(study)
        self.stdout.write(f"Example study {study.slug!r} ({study.status}) with "
                          f"{study.conditions.count()} conditions and {study.items.count()} items.")
        self.stdout.write(f"Participant URL: {url}")

"""python manage.py export_plan <study-slug> [--format json|text] [--out PATH]

Writes the study's analysis plan: AsPredicted-style text, or JSON with every dated version and the plan's log
(the freeze at launch, interim looks). The JSON is what ``analyze --from-csv FILE --plan PLAN.json`` reads."""
from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from stats.services import PLAN_EXPORT_FORMATS, plan_export
from studies.models import Study


class Command(BaseCommand):
    help = "Export a study's analysis plan as AsPredicted-style text or JSON."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("--format", default="text", help=f"{', '.join(PLAN_EXPORT_FORMATS)} (default text)")
        parser.add_argument("--out", help="file to write (default stdout)")

    def handle(self, *args, **options):
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with slug {options['study']!r}.")
        try:
            file = plan_export(study=study, fmt=options["format"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if options["out"]:
            Path(options["out"]).write_text(file.content, encoding="utf-8")
            self.stderr.write(f"Wrote {options['out']} ({file.filename}).")
        else:
            self.stdout.write(file.content)

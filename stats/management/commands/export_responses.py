"""python manage.py export_responses <study-slug> --format long|wide|json|codebook [--out PATH]
[--include-simulated] [--include-unfinished]

The same export as the admin actions and the API (stats.services.exports): by default completed, real
participants only."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stats.services.exports import EXPORT_FORMATS, responses_export
from studies.models import Study


class Command(BaseCommand):
    help = "Export a study's responses as long CSV, wide CSV or JSON (with codebook), or the codebook alone."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("--format", default="long", help=f"{', '.join(EXPORT_FORMATS)} (default long)")
        parser.add_argument("--out", help="file to write (default stdout)")
        parser.add_argument("--include-simulated", action="store_true", help="include simulated participants")
        parser.add_argument("--include-unfinished", action="store_true",
                            help="include participants who did not reach the end of the study")
        parser.add_argument("--identified", action="store_true",
                            help="add the platform ids beside the pseudonyms (the owner's file, not to share)")

    def handle(self, *args, **options):
        if options["format"] not in EXPORT_FORMATS:
            raise CommandError(f"Unknown format {options['format']!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with slug {options['study']!r}.")
        content, _, filename = responses_export(
            study=study, fmt=options["format"], include_simulated=options["include_simulated"],
            include_unfinished=options["include_unfinished"], identified=options["identified"],
        )
        if options["out"]:
            Path(options["out"]).write_text(content, encoding="utf-8")
            self.stderr.write(f"Wrote {options['out']} ({filename}).")
        else:
            self.stdout.write(content, ending="")

"""python manage.py export_responses <study-slug> --format long|wide|json|codebook [--out PATH] [--include-simulated]"""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studies.models import Study
from stats.reports import EXPORT_FORMATS, responses_export


class Command(BaseCommand):
    help = "Export a study's responses as long CSV, wide CSV or JSON (with codebook), or the codebook alone."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("--format", default="long", help="long, wide, json or codebook (default long)")
        parser.add_argument("--out", help="file to write (default stdout)")
        parser.add_argument("--include-simulated", action="store_true", help="include simulated participants")

    def handle(self, *args, **options):
        if options["format"] not in EXPORT_FORMATS:
            raise CommandError(f"Unknown format {options['format']!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with slug {options['study']!r}.")
        content, _, filename = responses_export(
            study=study, fmt=options["format"], include_simulated=options["include_simulated"]
        )
        if options["out"]:
            Path(options["out"]).write_text(content, encoding="utf-8")
            self.stderr.write(f"Wrote {options['out']} ({filename}).")
        else:
            self.stdout.write(content, ending="")

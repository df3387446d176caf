"""python manage.py analyze <study-slug> --format json|csv|html [--out PATH] [--include-simulated]
[--correction bonferroni|holm|fdr_bh] [--alpha A] [--min-stimulus-seconds S]

Runs and stores the analysis (seed section 3.3: Kruskal-Wallis per statement, correction per family).
Exit status 1 with a plain message when the study cannot be analysed, 2 when the report was written but
some items could not be tested (e.g. an item without answers)."""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studies.models import Study
from stats.analysis import CORRECTION_METHODS
from stats.reports import ANALYSIS_FORMATS, analysis_render
from stats.services import AnalysisError, AnalysisParameters, analysis_run


class Command(BaseCommand):
    help = "Analyse a study's Likert responses and write the report as JSON, CSV or HTML."

    def add_arguments(self, parser):
        parser.add_argument("study", help="study slug")
        parser.add_argument("--format", default="json", help="json, csv or html (default json)")
        parser.add_argument("--out", help="write the report to this file instead of stdout")
        parser.add_argument("--include-simulated", action="store_true", help="analyse simulated participants too")
        parser.add_argument("--correction", default="bonferroni", help="bonferroni, holm or fdr_bh")
        parser.add_argument("--alpha", type=float, default=0.05)
        parser.add_argument("--min-stimulus-seconds", type=float, default=None,
                            help="exclude participants with less time on the stimulus page (default: the study's)")
        parser.add_argument("--families", help='JSON mapping family -> item keys, e.g. \'{"main": ["arms"]}\'')

    def handle(self, *args, **options):
        fmt = options["format"]
        if fmt not in ANALYSIS_FORMATS:
            raise CommandError(f"Unknown format {fmt!r}; choose one of: {', '.join(ANALYSIS_FORMATS)}.")
        if options["correction"] not in CORRECTION_METHODS:
            raise CommandError(
                f"Unknown correction method {options['correction']!r}; choose one of: {', '.join(CORRECTION_METHODS)}."
            )
        study = Study.objects.filter(slug=options["study"]).first()
        if study is None:
            raise CommandError(f"No study with slug {options['study']!r}.")
        families = None
        if options["families"]:
            try:
                families = json.loads(options["families"])
            except json.JSONDecodeError as error:
                raise CommandError(f"--families is not valid JSON: {error}") from None
        parameters = AnalysisParameters(
            correction=options["correction"], alpha=options["alpha"], include_simulated=options["include_simulated"],
            min_stimulus_seconds=options["min_stimulus_seconds"], families=families,
        )
        try:
            analysis = analysis_run(study=study, parameters=parameters)
        except AnalysisError as error:
            raise CommandError(str(error)) from None
        content, _, _ = analysis_render(analysis.results, fmt)
        if options["out"]:
            Path(options["out"]).write_text(content, encoding="utf-8")
            self.stderr.write(f"Analysis {analysis.pk} ({analysis.data_hash[:12]}) written to {options['out']}.")
        else:
            self.stdout.write(content)
        problems = analysis.results["problems"]
        if problems:
            for problem in problems:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError(f"{len(problems)} item(s) could not be tested; see the report.", returncode=2)

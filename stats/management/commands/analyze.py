"""python manage.py analyze <study-slug> --format json|csv|html [--out PATH] [--include-simulated]
[--correction bonferroni|holm|fdr_bh] [--alpha A] [--min-stimulus-seconds S] [--exact always] [--interim]
python manage.py analyze --from-csv FILE [--plan PLAN.json] --format ...

Runs and stores the analysis (seed section 3.3: Kruskal-Wallis per statement, correction per family), or,
with --from-csv, reruns it on a long CSV export without touching the database: the same code, so the same
data hash and numbers as the stored analysis. --plan takes the plan export (``export_plan --format json``) or
a stored analysis' JSON (its plan and options); without it the plan is derived from the file's columns.
A live study is analysed only with --interim (an interim look, logged in the plan's log).
Exit status 1 with a plain message when the study cannot be analysed, 2 when the report was written but
some items could not be tested (e.g. an item without answers)."""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stats.analysis import CORRECTION_METHODS, AnalysisInputError
from stats.analysis.long_table import ordered_items, parse_long_csv
from stats.analysis.plan import EDITABLE_KEYS, complete_plan
from stats.reports import ANALYSIS_FORMATS, analysis_render
from stats.services import AnalysisError, AnalysisParameters, analysis_from_long, analysis_run
from stats.services.exports import IDENTITY_COLUMNS
from studies.models import Study


def _read_json(path: str, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise CommandError(f"{what} {path}: cannot be read ({error.strerror or error}).") from None
    except json.JSONDecodeError as error:
        raise CommandError(f"{what} {path} is not valid JSON: {error}") from None


def plan_and_options(document, data) -> tuple[dict, dict]:
    """(plan, analysis options) from a plan export, a stored analysis' JSON, or the file alone."""
    if document is None:
        conditions = [{"slug": slug, "name": slug} for slug in data.conditions]
        items = [{"key": i["key"], "group": i["group"], "scale_points": i["scale_points"] or 7,
                  "reverse_coded": i["reverse_coded"]} for i in ordered_items(data, "likert")]
        return complete_plan({}, conditions=conditions, items=items), {}
    if isinstance(document, dict) and isinstance(document.get("plan"), dict) and "spec" in document["plan"]:
        requested = document.get("parameters", {}).get("requested", {})
        return document["plan"]["spec"], requested
    if isinstance(document, dict) and isinstance(document.get("plan"), dict):
        plan = document["plan"]
        editable = {key: plan[key] for key in EDITABLE_KEYS if key in plan}
        return complete_plan(editable, conditions=plan["conditions"], items=plan["items"]), {}
    raise CommandError("--plan must be a plan export (export_plan --format json) or an analysis JSON.")


class Command(BaseCommand):
    help = "Analyse a study's Likert responses (or a long CSV export) and write the report as JSON, CSV or HTML."

    def add_arguments(self, parser):
        parser.add_argument("study", nargs="?", help="study slug (not with --from-csv)")
        parser.add_argument("--from-csv", dest="from_csv", help="analyse this long CSV export instead of a study")
        parser.add_argument("--plan", help="with --from-csv: the plan (export_plan JSON) or a stored analysis JSON")
        parser.add_argument("--format", default="json", help="json, csv or html (default json)")
        parser.add_argument("--out", help="write the report to this file instead of stdout")
        parser.add_argument("--include-simulated", action="store_true", help="analyse simulated participants too")
        parser.add_argument("--correction", default=None, help="bonferroni, holm or fdr_bh (default: the plan's)")
        parser.add_argument("--alpha", type=float, default=None, help="default: the plan's")
        parser.add_argument("--min-stimulus-seconds", type=float, default=None,
                            help="exclude participants with less time on the stimulus page (default: the plan's)")
        parser.add_argument("--families", help='JSON mapping family -> item keys, e.g. \'{"main": ["arms"]}\'')
        parser.add_argument("--exact", choices=["auto", "always"], default=None,
                            help="always: exact / permutation p for every test (default: the plan's)")
        parser.add_argument("--interim", action="store_true",
                            help="confirm an interim look at a live study (recorded in the plan's log)")

    def handle(self, *args, **options):
        fmt = options["format"]
        if fmt not in ANALYSIS_FORMATS:
            raise CommandError(f"Unknown format {fmt!r}; choose one of: {', '.join(ANALYSIS_FORMATS)}.")
        if options["correction"] is not None and options["correction"] not in CORRECTION_METHODS:
            raise CommandError(
                f"Unknown correction method {options['correction']!r}; choose one of: {', '.join(CORRECTION_METHODS)}."
            )
        families = None
        if options["families"]:
            try:
                families = json.loads(options["families"])
            except json.JSONDecodeError as error:
                raise CommandError(f"--families is not valid JSON: {error}") from None
        given = {"correction": options["correction"], "alpha": options["alpha"],
                 "include_simulated": options["include_simulated"], "families": families,
                 "min_stimulus_seconds": options["min_stimulus_seconds"], "exact": options["exact"]}
        if options["from_csv"]:
            results, stored = self._from_csv(options, given), None
        else:
            if options["plan"]:
                raise CommandError("--plan goes with --from-csv; a study is analysed under its own plan.")
            study = Study.objects.filter(slug=options["study"] or "").first()
            if study is None:
                raise CommandError(f"No study with slug {options['study']!r}.")
            try:
                stored = analysis_run(study=study, parameters=AnalysisParameters(**given), interim=options["interim"],
                                      interim_reason="manage.py analyze --interim")
            except AnalysisError as error:
                raise CommandError(str(error)) from None
            results = stored.results
        content, _, _ = analysis_render(results, fmt)
        if options["out"]:
            Path(options["out"]).write_text(content, encoding="utf-8")
            label = f"Analysis {stored.pk}" if stored else "Analysis of the file"
            self.stderr.write(f"{label} ({results['data_hash'][:12]}) written to {options['out']}.")
        else:
            self.stdout.write(content)
        problems = results.get("problems", [])
        if problems:
            for problem in problems:
                self.stderr.write(self.style.ERROR(problem))
            raise CommandError(f"{len(problems)} item(s) could not be tested; see the report.", returncode=2)

    def _from_csv(self, options, given) -> dict:
        if options["study"]:
            raise CommandError("Give either a study slug or --from-csv FILE, not both.")
        try:
            text = Path(options["from_csv"]).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"{options['from_csv']}: cannot be read ({error.strerror or error}).") from None
        try:
            data = parse_long_csv(text, identity_columns=IDENTITY_COLUMNS)
            document = _read_json(options["plan"], "--plan") if options["plan"] else None
            plan, requested = plan_and_options(document, data)
        except (AnalysisInputError, KeyError, TypeError) as error:
            raise CommandError(f"Cannot analyse {options['from_csv']}: {error}") from None
        overrides = {**requested, **{k: v for k, v in given.items() if v not in (None, False)}}
        study = document.get("study") if isinstance(document, dict) else None
        try:
            _, _, results = analysis_from_long(
                data, plan=plan, parameters=AnalysisParameters(**overrides),
                frozen=bool(isinstance(document, dict) and (document.get("frozen_at")
                                                             or (document.get("plan") or {}).get("frozen_at"))),
                study={"slug": study.get("slug"), "title": study.get("title")} if isinstance(study, dict) else None,
            )
        except AnalysisError as error:
            raise CommandError(str(error)) from None
        return results

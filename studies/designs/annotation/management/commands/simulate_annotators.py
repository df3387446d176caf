"""Run simulated annotators through an annotation study's participant pages (see annotation/simulation.py)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from studies.designs.annotation.simulation import AnnotationPolicy, annotation_simulation_run
from studies.models import Study


class Command(BaseCommand):
    help = ("Drive N simulated annotators through a live annotation study; they answer correctly with the "
            "accuracy of each item's subcategory, are flagged is_simulated and never enter real analyses.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("study", help="slug of the live annotation study")
        parser.add_argument("--n", type=int, default=20, help="number of simulated annotators (default 20)")
        parser.add_argument("--accuracy", default=None,
                            help='JSON {"<subcategory>": share correct}, e.g. \'{"easy": 0.95, "hard": 0.7}\'')
        parser.add_argument("--otherwise", type=float, default=0.8,
                            help="share correct for items of any other subcategory (default 0.8)")
        parser.add_argument("--base-url", default=None, help="URL of a running server (default: in-process)")
        parser.add_argument("--abandon-share", type=float, default=0.0)
        parser.add_argument("--attention-fail-share", type=float, default=0.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--concurrency", type=int, default=1)

    def handle(self, *args, **options) -> None:
        study = Study.objects.filter(slug=options["study"], design=Study.Design.ANNOTATION).first()
        if study is None:
            raise CommandError(f"No annotation study with the slug {options['study']!r}.")
        if study.status != Study.Status.LIVE:
            raise CommandError(f"Study {study.slug!r} is {study.status}: launch it first.")
        try:
            accuracy = json.loads(options["accuracy"]) if options["accuracy"] else None
            if accuracy is not None and not isinstance(accuracy, dict):
                raise ValueError("--accuracy must be a JSON object mapping subcategories to shares.")
            policy = AnnotationPolicy(**({"accuracy": accuracy} if accuracy is not None else {}),
                                      otherwise=options["otherwise"])
            report = annotation_simulation_run(
                study=study, n=options["n"], policy=policy, base_url=options["base_url"],
                abandon_share=options["abandon_share"], attention_fail_share=options["attention_fail_share"],
                seed=options["seed"], concurrency=options["concurrency"])
        except ValueError as error:  # json.JSONDecodeError included
            raise CommandError(str(error)) from None
        for line in report.lines():
            self.stdout.write(line)
        if report.stuck:
            for outcome in report.stuck:
                self.stderr.write(outcome.error)
            raise CommandError(f"{len(report.stuck)} simulated annotator(s) got stuck.")

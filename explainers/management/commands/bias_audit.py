"""Bias audit of a checkpoint: the seed's Table 3 plus the ideal-counterfactual check."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Correlate every Two4Two parameter with the model output (on test data and under single-parameter "
            "re-sampling, 95% CIs) and read the parameters along counterfactual rows.")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", required=True, help="checkpoint path (relative: under ARTIFACTS_ROOT)")
        parser.add_argument("--format", choices=["json", "text"], default="text")
        parser.add_argument("--n-test", type=int, default=1000, help="test scenes (default 1000)")
        parser.add_argument("--n-regression", type=int, default=6000, help="images to train the read-outs on")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threads", type=int, default=2)

    def handle(self, *args, **options):
        import torch

        from explainers.core.evaluation.audit import format_text
        from explainers.services.audit import bias_audit_run

        if options["n_test"] < 10 or options["n_regression"] < 50:
            raise CommandError("--n-test must be >= 10 and --n-regression >= 50")
        torch.set_num_threads(options["threads"])
        try:
            report = bias_audit_run(path=options["checkpoint"], n_test=options["n_test"],
                                    n_regression=options["n_regression"], seed=options["seed"],
                                    progress=lambda message: self.stderr.write(message))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["format"] == "json":
            self.stdout.write(json.dumps(report, indent=2))
        else:
            self.stdout.write(format_text(report))

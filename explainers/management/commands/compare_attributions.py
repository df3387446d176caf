"""The seed's section 3.2 comparison (Figure 3) for a Glow checkpoint: table, JSON and figure."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Integrate the raw gradient, SmoothGrad and the directional derivative d phi^-1/dw on held-out images "
            "and report the logit change and the change of unrelated factors xi = E z (Sixt et al., sec. 3.2).")

    def add_arguments(self, parser):
        parser.add_argument("--checkpoint", required=True, help="Glow checkpoint (relative: under ARTIFACTS_ROOT)")
        parser.add_argument("--n", type=int, default=100, help="held-out samples (default 100)")
        parser.add_argument("--reference", type=int, default=500, help="images for the principal components")
        parser.add_argument("--steps", type=int, default=10, help="Euler steps")
        parser.add_argument("--logit-change", type=float, default=2.0, help="first-order logit gain in total")
        parser.add_argument("--smoothgrad-samples", type=int, default=10)
        parser.add_argument("--components", type=int, default=16, help="principal components forming xi")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--out", default="attribution_comparison", help="output folder (relative: under MEDIA_ROOT)")

    def handle(self, *args, **options):
        import torch

        from explainers.core.evaluation.attribution_comparison import format_table
        from explainers.services.audit import attribution_comparison_run

        torch.set_num_threads(options["threads"])
        try:
            results, files = attribution_comparison_run(
                path=options["checkpoint"], out=options["out"], n=options["n"], reference=options["reference"],
                steps=options["steps"], logit_change=options["logit_change"],
                smoothgrad_samples=options["smoothgrad_samples"], components=options["components"],
                seed=options["seed"], progress=lambda method: self.stderr.write(f"integrating {method} ..."))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_table(results))
        self.stdout.write(json.dumps(files, indent=2))

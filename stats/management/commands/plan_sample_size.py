"""python manage.py plan_sample_size --d 0.5 --alpha 0.05 --family-size 6 [--power 0.8] [--efficiency normal|worst_case]
python manage.py plan_sample_size --distributions '[[...7 probabilities...], [...]]' --family-size 6 [--seed 0]

Participants needed per condition (stats/power.py)."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from stats.analysis import AnalysisInputError
from stats.analysis.power import plan_from_cohens_d, plan_from_distributions


class Command(BaseCommand):
    help = "Participants per condition for a Kruskal-Wallis comparison, from Cohen's d or two answer distributions."

    def add_arguments(self, parser):
        parser.add_argument("--d", type=float, help="Cohen's d between two conditions")
        parser.add_argument("--distributions", help="JSON list of answer distributions, one per condition")
        parser.add_argument("--alpha", type=float, default=0.05)
        parser.add_argument("--power", type=float, default=0.8)
        parser.add_argument("--family-size", type=int, default=1, help="Bonferroni family size (statements)")
        parser.add_argument("--conditions", type=int, default=2)
        parser.add_argument("--efficiency", default="normal", help="normal (ARE 0.955) or worst_case (0.864)")
        parser.add_argument("--simulations", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true", help="print the plan as JSON")

    def handle(self, *args, **options):
        if (options["d"] is None) == (options["distributions"] is None):
            raise CommandError("Give either --d or --distributions.")
        try:
            if options["d"] is not None:
                plan = plan_from_cohens_d(
                    d=options["d"], alpha=options["alpha"], power=options["power"],
                    family_size=options["family_size"], efficiency=options["efficiency"],
                    conditions=options["conditions"],
                )
            else:
                try:
                    distributions = json.loads(options["distributions"])
                except json.JSONDecodeError as error:
                    raise CommandError(f"--distributions is not valid JSON: {error}") from None
                if not isinstance(distributions, list):
                    raise CommandError("--distributions must be a JSON list of lists.")
                plan = plan_from_distributions(
                    distributions=distributions, alpha=options["alpha"], power=options["power"],
                    family_size=options["family_size"], simulations=options["simulations"], seed=options["seed"],
                )
        except AnalysisInputError as error:
            raise CommandError(str(error)) from None
        if options["json"]:
            self.stdout.write(json.dumps(plan.as_dict(), indent=2))
            return
        self.stdout.write(
            f"{plan.n_per_condition} participants per condition ({plan.n_total} in total over {plan.conditions} "
            f"conditions) for power {plan.power} at alpha {plan.alpha} / {plan.family_size} = "
            f"{plan.alpha_per_test:.5f} ({plan.method})."
        )

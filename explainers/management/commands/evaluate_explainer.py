"""Measure progressive-exaggeration explainers (see explainers.services.exaggeration.explainer_evaluate)."""
from __future__ import annotations

import json
import math

from django.core.management.base import BaseCommand, CommandError

from .train_explainer import registered_model


def _number(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


class Command(BaseCommand):
    help = ("Compatibility, self-consistency and data consistency of explainers, the Two4Two parameters their rows "
            "change and the confounding metric (Singla et al. section 4, Table 3).")

    def add_arguments(self, parser):
        parser.add_argument("--explainer", action="append", required=True,
                            help="a registered explainer (id or name); repeat to compare, e.g. biased and unbiased")
        parser.add_argument("--oracle", default="", help="registered CNN whose features define the Frechet distance")
        parser.add_argument("--images", type=int, default=200, help="held-out images (default 200)")
        parser.add_argument("--steps", type=int, default=10, help="columns per row across [0, 1] (default 10)")
        parser.add_argument("--figure-dir", default="", help="write each explainer's Figure-3 plot here")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--json", action="store_true", help="print the full reports as JSON")

    def handle(self, *args, **options):
        import torch
        from django.core.exceptions import ValidationError

        from explainers.services.exaggeration import explainer_evaluate

        torch.set_num_threads(options["threads"])
        if not 2 <= options["steps"] <= 32 or not 1 <= options["images"] <= 5000:
            raise CommandError("--steps must lie in 2..32 and --images in 1..5000")
        oracle = registered_model(options["oracle"]) if options["oracle"] else None
        reports = []
        for name in options["explainer"]:
            explainer = registered_model(name)
            figure = None
            if options["figure_dir"]:
                from pathlib import Path

                Path(options["figure_dir"]).mkdir(parents=True, exist_ok=True)
                figure = Path(options["figure_dir"]) / f"compatibility-{explainer.pk}.png"
            try:
                reports.append(explainer_evaluate(explainer=explainer, oracle=oracle, count=options["images"],
                                                  steps=options["steps"], figure=figure))
            except ValidationError as exc:
                raise CommandError("; ".join(m for ms in exc.message_dict.values() for m in ms)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(reports, indent=2))
            return
        for report in reports:
            self._print(report)

    def _print(self, report: dict) -> None:
        write = self.stdout.write
        compat, consistency = report["compatibility"], report["self_consistency"]
        write(f"\n== {report['explainer']} (explains {report['classifier']}; {report['images']} images, "
              f"{report['steps']} steps) ==")
        write(f"compatibility    correlation {_number(compat['correlation'])}   mean |gap| "
              f"{_number(compat['mean_abs_gap'])}")
        write(f"self-consistency identity L1 {_number(consistency['identity_l1'])}, same class "
              f"{_number(consistency['identity_same_class'])}; cycle L1 {_number(consistency['cycle_l1'])}, "
              f"same class {_number(consistency['cycle_same_class'])}")
        if "data_consistency" in report:
            fd = report["data_consistency"]
            write(f"data consistency Frechet distance overall {_number(fd['overall'])}, present "
                  f"{_number(fd['present'])}, absent {_number(fd['absent'])} (real vs real: "
                  f"{_number(fd['real_halves'])})")
        if "parameters" in report:
            change = report["parameters"]["change_per_logit"]
            ranked = ", ".join(f"{k} {_number(abs(change[k]['per_logit_std_units']))}"
                               for k in report["parameters"]["ranking"][:5])
            write(f"parameters       |change| per unit logit (std units): {ranked}")
            write(f"                 colour / arms = {_number(report['parameters']['colour_over_arms'])}")
        if "confounding" in report:
            bias = report["confounding"]
            for target, values in bias.items():
                if isinstance(values, dict):
                    write(f"confounding      to {target}: warm colour {_number(values['attribute_1'])}, cool "
                          f"{_number(values['attribute_0'])}, flipped vs query {_number(values['flipped'])}")
            write(f"                 warm share exaggerated to the target class minus to the other: "
                  f"{_number(bias['attribute_1_shift_to_target'])}")
        if "figure" in report:
            write(f"figure           {report['figure']}")

"""Compare every counterfactual method on the same held-out images: validity, proximity, realism, cost."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError


def _params(values: list[str]) -> dict[str, dict]:
    """METHOD.KEY=VALUE (VALUE as JSON, else a string) -> {method: {key: value}}."""
    params: dict[str, dict] = {}
    for value in values:
        name, _, setting = value.partition(".")
        key, _, raw = setting.partition("=")
        if not name or not key or not raw:
            raise CommandError(f"--param takes METHOD.KEY=VALUE (e.g. clarity.lam=0.05), got {value!r}")
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError:
            parsed = raw
        params.setdefault(name, {})[key] = parsed
    return params


def _class_path(value: str) -> tuple[int, str]:
    label, _, path = value.partition("=")
    if not path or not label.isdigit():
        raise CommandError(f"--class-vae takes CLASS=PATH (e.g. 0=vae-class0.pt), got {value!r}")
    return int(label), path


class Command(BaseCommand):
    help = ("Explain held-out images of a classifier with Clarity, REVISE, REVISE-E, Schut et al., CEM-MAF PN, "
            "input-space gradient descent and (with --glow / --ibinn) the invertible models' own counterfactuals; print "
            "validity (classifier and oracle), L1 in pixels and latent space, IM1 realism, Two4Two parameter "
            "changes, network evaluations and seconds per image.")

    def add_arguments(self, parser):
        parser.add_argument("--classifier", required=True, help="the explained classifier's checkpoint (CNN)")
        parser.add_argument("--oracle", help="an independent classifier's checkpoint (validity under the oracle)")
        parser.add_argument("--vae", required=True, help="the generator (VAE checkpoint) of the latent methods")
        parser.add_argument("--class-vae", action="append", default=[], metavar="CLASS=PATH",
                            help="a VAE trained on one class only (IM1 realism); repeat per class")
        parser.add_argument("--ensemble", action="append", default=[], metavar="PATH",
                            help="an ensemble member for REVISE-E and Schut (a classifier checkpoint); repeat")
        parser.add_argument("--glow", help="a Glow checkpoint of the same image size (its own counterfactuals)")
        parser.add_argument("--ibinn", help="an IB-INN checkpoint of the same images (ECINN's counterfactuals)")
        parser.add_argument("--methods", default="", help="comma-separated registered names (default: all)")
        parser.add_argument("--param", action="append", default=[], metavar="METHOD.KEY=VALUE",
                            help="a method parameter, e.g. clarity.lam=0.05 (repeat)")
        parser.add_argument("--n", type=int, default=16, help="held-out images (default 16)")
        parser.add_argument("--reference", type=int, default=2000, help="training images for Clarity's ensemble")
        parser.add_argument("--max-iterations", type=int, default=500, help="N of the stopping rule (default 500)")
        parser.add_argument("--no-readout", action="store_true", help="skip the Two4Two parameter read-out")
        parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
        parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
        parser.add_argument("--out", help="folder for comparison.json and comparison.csv (relative: ARTIFACTS_ROOT)")
        parser.add_argument("--figure", help="PNG of example rows [original | one column per method]")

    def handle(self, *args, **options):
        import torch

        from explainers.core.evaluation.counterfactual_comparison import format_table
        from explainers.core.errors import CheckpointError
        from explainers.services.counterfactual_comparison import comparison_run

        torch.set_num_threads(options["threads"])
        kwargs = {}
        if options["methods"]:
            kwargs["methods"] = tuple(m.strip() for m in options["methods"].split(",") if m.strip())
        try:
            rows, files = comparison_run(
                classifier=options["classifier"], oracle=options["oracle"], vae=options["vae"],
                class_vaes=dict(_class_path(v) for v in options["class_vae"]), ensemble=options["ensemble"],
                glow=options["glow"], ibinn=options["ibinn"], n=options["n"], reference=options["reference"],
                max_iterations=options["max_iterations"], device=options["device"],
                readout=not options["no_readout"], params=_params(options["param"]), out=options["out"], figure=options["figure"],
                progress=lambda row: self.stderr.write(f"{row['method']} done"), **kwargs)
        except (ValueError, CheckpointError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(format_table(rows))
        if files:
            self.stdout.write(json.dumps(files, indent=2))

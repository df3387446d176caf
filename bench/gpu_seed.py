"""Models of any family trained on a GPU with explainers.core alone; the invertible ones audited.

Runs where only PyTorch is installed (a lent GPU machine has no Django): each job trains a preset
(explainers.core.training.families: Glow, IB-INN, CNN, VAE, ...) with ``train_to_checkpoint(..., device="cuda")``;
invertible models then get the bias audit and the ideal-counterfactual read-out (explainers.core.evaluation.audit,
the seed's Table 3 and definition 2.2) unless ``--no-audit``. ``--ship`` writes the weights as a shipped
checkpoint (explainers.core.training.shipped) under ``OUT/shipped``, ready to copy into explainers/checkpoints/.
Figures go to ``OUT/gpu_seed.json``; docs/BENCHMARKS.md quotes them.

    TWO4TWO_RENDER_WORKERS=16 PYTHONPATH=. python3 bench/gpu_seed.py --jobs seed64-supervised seed128
    TWO4TWO_RENDER_WORKERS=16 PYTHONPATH=. python3 bench/gpu_seed.py --jobs vae-two4two --ship two4two-vae-64

Without a GPU, ``--set`` shrinks a job to check a preset's stability on the CPU (docs/BENCHMARKS.md, seed128):

    python bench/gpu_seed.py --jobs seed128 --no-audit --log-every 10 \
        --set steps=150 warmup_steps=60 batch_size=4 train_size=600 val_size=40 eval_every=1000
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explainers.core.evaluation.audit import audit_checkpoint  # noqa: E402
from explainers.core.training.families import family_of_preset, preset_config  # noqa: E402
from explainers.core.training.run import train_to_checkpoint  # noqa: E402
from explainers.core.training.shipped import shipped_write  # noqa: E402

#: Overrides that fit each preset into a few minutes of one H200 (the data rendered by 16 processes).
JOBS = {
    "seed64-supervised": {},
    "seed64": {},
    "seed128": {"steps": 800, "warmup_steps": 300, "train_size": 16000, "val_size": 1000, "eval_every": 400},
    "quick": {"steps": 4, "train_size": 64, "val_size": 32, "eval_every": 2},  # a smoke test of this script
    "vae-quick": {"steps": 4, "train_size": 64, "val_size": 32, "eval_every": 2},
}

def _overrides(pairs: list[str]) -> dict[str, float | int]:
    values: dict[str, float | int] = {}
    for pair in pairs:
        key, _, text = pair.partition("=")
        try:
            values[key] = int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            raise SystemExit(f"--set {pair!r}: expected KEY=NUMBER") from None
    return values


def _step_logger(every: int):
    started = time.perf_counter()

    def log(step: int, total: int, metrics: dict) -> None:
        if step % every == 0 or step == total:
            shown = " ".join(f"{k} {v:.4g}" for k, v in metrics.items() if isinstance(v, float))
            print(f"   step {step}/{total} {time.perf_counter() - started:.0f} s {shown}", flush=True)
    return log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", nargs="+", default=["seed64-supervised", "seed128"],
                        help="preset names of any family (overrides for a GPU's few minutes: JOBS)")
    parser.add_argument("--steps", type=int, default=None, help="override every job's training steps")
    parser.add_argument("--no-audit", action="store_true", help="train only (the audit renders on the CPU)")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                        help="override training options of every job (numbers), e.g. batch_size=8 warmup_steps=100")
    parser.add_argument("--log-every", type=int, default=0, help="print the running losses every N steps")
    parser.add_argument("--ship", default="", metavar="NAME", help="write the (one) job's weights as shipped NAME")
    parser.add_argument("--out", default=os.environ.get("OUT", "var/gpu"))
    parser.add_argument("--cache", default="var/gpu-cache")
    parser.add_argument("--audit-rows", type=int, default=64)
    parser.add_argument("--audit-test", type=int, default=1000, help="test images of the bias audit")
    parser.add_argument("--audit-regression", type=int, default=6000, help="images the read-out learns from")
    parser.add_argument("--regressor-steps", type=int, default=2500)
    parser.add_argument("--budget-s", type=float, default=480, help="skip jobs that would start after this")
    args = parser.parse_args()
    out, cache = Path(args.out), Path(args.cache)
    out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
              "torch": torch.__version__, "render_workers": os.environ.get("TWO4TWO_RENDER_WORKERS", "1"),
              "jobs": {}}
    started = time.perf_counter()
    for name in args.jobs:
        if time.perf_counter() - started > args.budget_s:
            report["jobs"][name] = {"skipped": "over the time budget"}
            continue
        family = family_of_preset(name)
        config = preset_config(name, **{**JOBS.get(name, {}), **({"steps": args.steps} if args.steps else {}),
                                        **_overrides(args.set)})
        target = Path(tempfile.gettempdir()) / f"gpu-{name}.pt"  # full checkpoints stay on the machine
        print(f"== {name}: {config.steps} steps at {config.image_size} px on {device}", flush=True)
        t0 = time.perf_counter()
        loaded = train_to_checkpoint(config, target, cache_dir=cache, device=device,
                                     progress=_step_logger(args.log_every) if args.log_every else None)
        train_s = time.perf_counter() - t0
        report["jobs"][name] = {"config": config.to_dict(), "metrics": loaded.metrics, "sha256": loaded.sha256,
                                "train_s": round(train_s, 1)}
        if args.ship:
            command = f"TWO4TWO_RENDER_WORKERS=16 python3 bench/gpu_seed.py --jobs {name} --ship {args.ship}"
            shipped = shipped_write(loaded, args.ship, command=command, directory=out / "shipped",
                                    extra={"preset": name, "device": report["device"]})
            report["jobs"][name]["shipped"] = shipped.name
        print(json.dumps(report["jobs"][name], default=float)[:2000], flush=True)
        (out / "gpu_seed.json").write_text(json.dumps(report, indent=2, default=float))
        if args.no_audit or family.registered_kind != "invertible":
            continue
        t0 = time.perf_counter()
        loaded.model.to(device)
        audit = audit_checkpoint(loaded, n_rows=args.audit_rows, n_test=args.audit_test,
                                 n_regression=args.audit_regression, regressor_steps=args.regressor_steps,
                                 progress=lambda stage: print(f"   {stage}", flush=True))
        audit_s = time.perf_counter() - t0
        report["jobs"][name].update({"audit_s": round(audit_s, 1), "audit": audit})
        print(json.dumps({k: v for k, v in report["jobs"][name].items() if k != "audit"}, default=float)[:2000],
              flush=True)
        print(json.dumps(audit["ideal_counterfactuals"]["parameters"], default=float)[:1500], flush=True)
        (out / "gpu_seed.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"total {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()

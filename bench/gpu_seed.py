"""The seed-faithful Two4Two models on a GPU: train, audit and time them with explainers.core alone.

Runs where only PyTorch is installed (a lent GPU machine has no Django): each job trains a preset of
explainers.core.training.glow with ``train_to_checkpoint(..., device="cuda")``, then runs the bias audit and the
ideal-counterfactual read-out (explainers.core.evaluation.audit, the seed's Table 3 and definition 2.2) on it.
Figures go to ``$OUT/gpu_seed.json`` (and the small checkpoints to ``$OUT``); docs/BENCHMARKS.md quotes them.

    TWO4TWO_RENDER_WORKERS=16 PYTHONPATH=. python3 bench/gpu_seed.py --jobs seed64-supervised seed128
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explainers.core.evaluation.audit import audit_checkpoint  # noqa: E402
from explainers.core.training import glow  # noqa: E402
from explainers.core.training.run import train_to_checkpoint  # noqa: E402

#: Overrides that fit each preset into a few minutes of one H200 (the data rendered by 16 processes).
JOBS = {
    "seed64-supervised": {},
    "seed64": {},
    "seed128": {"steps": 800, "warmup_steps": 300, "train_size": 16000, "val_size": 1000, "eval_every": 400},
    "quick": {"steps": 4, "train_size": 64, "val_size": 32, "eval_every": 2},  # a smoke test of this script
}
#: Checkpoints up to this size come back from the GPU machine (the limit on returned files is 16 MB).
RETURN_BYTES = 15_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", nargs="+", default=["seed64-supervised", "seed128"], choices=sorted(JOBS))
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
        config = glow.preset(name, **JOBS[name])
        target = out / f"{name}.pt"
        print(f"== {name}: {config.steps} steps at {config.image_size} px on {device}", flush=True)
        t0 = time.perf_counter()
        loaded = train_to_checkpoint(config, target, cache_dir=cache, device=device)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        loaded.model.to(device)
        audit = audit_checkpoint(loaded, n_rows=args.audit_rows, n_test=args.audit_test,
                                 n_regression=args.audit_regression, regressor_steps=args.regressor_steps,
                                 progress=lambda stage: print(f"   {stage}", flush=True))
        audit_s = time.perf_counter() - t0
        report["jobs"][name] = {"config": config.to_dict(), "metrics": loaded.metrics, "sha256": loaded.sha256,
                                "train_s": round(train_s, 1), "audit_s": round(audit_s, 1), "audit": audit}
        weights = out / f"{name}.weights.pt"  # the model alone (the optimizer state doubles the file)
        torch.save({"config": config.to_dict(), "state_dict": loaded.model.cpu().state_dict()}, weights)
        target.unlink()
        if weights.stat().st_size > RETURN_BYTES:
            weights.unlink()
            report["jobs"][name]["checkpoint"] = "not returned (larger than the returned-file limit)"
        print(json.dumps({k: v for k, v in report["jobs"][name].items() if k != "audit"}, default=float)[:2000],
              flush=True)
        print(json.dumps(audit["ideal_counterfactuals"]["parameters"], default=float)[:1500], flush=True)
        (out / "gpu_seed.json").write_text(json.dumps(report, indent=2, default=float))
    print(f"total {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()

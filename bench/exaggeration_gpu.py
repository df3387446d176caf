"""Progressive exaggeration at 64 px on a GPU, end to end, in a few minutes and with explainers.core only (the lent
GPU machine has torch, numpy, Pillow and scipy, but no Django):

1. the three plain CNNs of the 64 px presets (biased, unbiased, oracle), shortened to ``--cnn-steps``;
2. one explainer per classifier (``exaggeration-two4two-64``), each capped at ``--explainer-seconds``;
3. each explainer's three properties, its Two4Two parameter changes (the shipped 64 px read-out) and the
   confounding metric, side by side;
then run bench/exaggeration.py on the explainer it wrote for the per-row timings on CUDA and CPU, next to the
invertible model. Everything is written under ``--out`` (JSON report, Figure-3 plots, checkpoints). ``--smoke`` runs the same
steps at toy sizes on the CPU (a check of this script).

    TWO4TWO_RENDER_WORKERS=16 python bench/exaggeration_gpu.py --out "$OUT" --device cuda
    python bench/exaggeration_gpu.py --out /tmp/smoke --smoke
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from explainers.core.evaluation import exaggeration as ev  # noqa: E402
from explainers.core.evaluation.counterfactual_quality import shipped_readout, train_regressors  # noqa: E402
from explainers.core.methods.gradients import logit_function  # noqa: E402
from explainers.core.training.exaggeration import explainer_preset  # noqa: E402
from explainers.core.training.exaggeration_loop import explainer_train_to_checkpoint  # noqa: E402
from explainers.core.training.families import preset_config  # noqa: E402
from explainers.core.training.run import train_to_checkpoint  # noqa: E402


try:  # the lent machine may lack matplotlib: the numbers do not need it
    import matplotlib  # noqa: F401
    PLOTS = True
except ImportError:  # pragma: no cover
    PLOTS = False


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cnn-steps", type=int, default=600)
    parser.add_argument("--explainer-seconds", type=float, default=60.0)
    parser.add_argument("--images", type=int, default=200, help="held-out images evaluated")
    parser.add_argument("--cache", default="", help="rendered-data cache (default: OUT/datasets)")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache) if args.cache else out / "datasets"
    size = 16 if args.smoke else 64
    variants = {"biased": "cnn-two4two-biased-64", "unbiased": "cnn-two4two-unbiased-64",
                "oracle": "cnn-two4two-oracle-64"}
    report: dict = {"device": args.device, "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    classifiers = {}
    for name, preset in variants.items():
        overrides = {"steps": args.cnn_steps}
        if args.smoke:
            overrides = {"steps": 4, "image_size": size, "train_size": 64, "val_size": 32, "batch_size": 16}
        config = preset_config(preset, **overrides)
        started = time.perf_counter()
        classifiers[name] = train_to_checkpoint(config, out / f"cnn-{name}.pt", cache_dir=cache, device=args.device)
        log(f"cnn {name}: val accuracy {classifiers[name].metrics['val_accuracy']:.3f} "
            f"({time.perf_counter() - started:.0f} s)")
        report[f"cnn_{name}"] = classifiers[name].metrics
    readout = shipped_readout(size) or train_regressors(size=size, n=200, seed=11, steps=20)
    oracle = classifiers["oracle"].model.eval()
    for name in ("biased", "unbiased"):
        classifier = classifiers[name]
        preset = "exaggeration-tiny" if args.smoke else "exaggeration-two4two-64"
        config = explainer_preset(preset, classifier_sha256=classifier.sha256, sampler=classifier.config.sampler,
                                  train_size=classifier.config.train_size, val_size=classifier.config.val_size,
                                  **({"image_size": size} if args.smoke else {}))
        explainer = explainer_train_to_checkpoint(config, classifier.model, out / f"explainer-{name}.pt",
                                                  cache_dir=cache, device=args.device,
                                                  time_limit_s=args.explainer_seconds)
        log(f"explainer {name}: {explainer.step} steps in {explainer.metrics['seconds']} s, "
            f"correlation {explainer.metrics.get('val_correlation')}")
        device = torch.device("cuda" if args.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
        net, f = explainer.model.to(device).eval(), classifier.model.to(device).eval()
        oracle.to(device)
        images = _held_out(classifier, cache, args.images)
        result = ev.evaluate(net, logit_function(f), images, steps=10, oracle_features=oracle.features,
                             readout=readout, figure=out / f"compatibility-{name}.png" if PLOTS else None,
                             title=f"explainer of the {name} CNN, 64 px")
        result["training"] = explainer.metrics
        report[f"explainer_{name}"] = result
        log(f"{name}: " + json.dumps({k: result[k] for k in ("compatibility", "self_consistency")}, default=float)[:400])
    (out / "exaggeration_gpu.json").write_text(json.dumps(report, indent=2, default=float))
    log(f"report written to {out / 'exaggeration_gpu.json'}")


def _held_out(classifier, cache: Path, count: int):
    from explainers.core.training.cnn import dataset_arrays

    return dataset_arrays(classifier.config, cache)["val_images"][:count]


if __name__ == "__main__":
    main()

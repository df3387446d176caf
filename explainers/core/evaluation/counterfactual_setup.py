"""The counterfactual comparison from checkpoint files: held-out images, networks, entrants, files (plain torch).

explainers.core.evaluation.counterfactual_comparison holds the metrics and the table; this module finds a
classifier checkpoint's held-out images (its validation stream; digits: the test split), loads the networks
and builds one entrant per registered counterfactual method the given networks allow. The Django command
(explainers/services/counterfactual_comparison.py) and the GPU benchmark (bench/latent_counterfactuals.py,
which runs where Django is not installed) both call :func:`comparison_from_checkpoints`.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable

#: The registered methods the comparison runs on the shared classifier (others join when their models are given).
LATENT_METHODS = ("clarity", "revise", "revise_e", "cem_maf_pn")
PIXEL_METHODS = ("schut", "input_gradient_descent")
#: The image size of the shipped Two4Two parameter read-out (explainers/checkpoints/two4two-readout-64.pt).
READOUT_SIZE = 64
#: Methods of invertible models that explain themselves (given with --glow / --ibinn).
INVERTIBLE = ("counterfactual_interpolation", "ecinn")


def _load(path, device):
    from explainers.core.training.checkpoints import checkpoint_read

    loaded = checkpoint_read(Path(path))
    loaded.model.to(device).eval()
    return loaded


def held_out(dataset: dict[str, Any], count: int, reference: int, cache_dir: Path | None
             ) -> tuple[Any, Any, Any]:
    """(held-out images uint8, their labels, reference training images uint8) of a checkpoint's dataset
    (Two4Two renders are cached under ``cache_dir``)."""
    from explainers.core.datasets import digits
    from explainers.core.datasets.cache import Two4TwoSpec, two4two_arrays

    if dataset.get("kind") == "digits":
        images, labels = digits.load("test", int(dataset["size"]), int(dataset.get("seed", 0)))
        train, _ = digits.load("train", int(dataset["size"]), int(dataset.get("seed", 0)))
        return images[:count], labels[:count], train[:reference]
    size, sampler = int(dataset.get("size", 64)), dataset.get("sampler", "study")
    val = two4two_arrays(Two4TwoSpec(sampler, int(dataset["val_seed"]), int(dataset["val_size"]), size), cache_dir)
    train = two4two_arrays(Two4TwoSpec(sampler, int(dataset["seed"]), int(dataset["train_size"]), size), cache_dir)
    return val[0][:count], val[1][:count], train[0][:reference]


def _clarity_ensemble(entrant, classifier, vae, reference):
    """Train (and cache) Clarity's latent ensemble before the timed search; the search then reuses it."""
    def prepare() -> None:
        from explainers.core.methods import _counterfactual_search as cs
        from explainers.core.methods.clarity import latent_ensemble_for
        from explainers.core.methods.gradients import logit_function
        from explainers.core.methods.registry import method_config

        config = method_config("clarity", entrant.params)
        classes = cs.class_count(logit_function(classifier), reference, "the explained classifier", "clarity")
        latent_ensemble_for(vae, classifier, config, classes, reference)
    return prepare


def entrants_for(*, classifier, vae, ensemble: list, glow, ibinn=None, methods: tuple[str, ...],
                 max_iterations: int, reference, available: list[str]):
    """One entrant per method the loaded networks allow (a method missing from the registry is skipped)."""
    from explainers.core.evaluation.counterfactual_comparison import Entrant

    entrants = []
    keys = list(range(2, 2 + len(ensemble)))
    for name in methods:
        if name not in available:
            continue
        if name == "clarity":
            entrant = Entrant("Clarity", name, {"generator_model": 1, "max_iterations": max_iterations},
                              classifier, {"generator": vae}, {"reference_images": reference})
            entrant.prepare = _clarity_ensemble(entrant, classifier, vae, reference)
            entrants.append(entrant)
        elif name == "revise":
            entrants.append(Entrant("REVISE", name, {"generator_model": 1, "max_iterations": max_iterations},
                                    classifier, {"generator": vae}))
        elif name == "revise_e" and ensemble:
            entrants.append(Entrant("REVISE-E", name, {"generator_model": 1, "ensemble_model": keys,
                                                       "max_iterations": max_iterations},
                                    classifier, {"generator": vae, "ensemble": ensemble}))
        elif name == "schut" and ensemble:
            entrants.append(Entrant("Schut et al.", name, {"ensemble_model": keys, "max_iterations": max_iterations},
                                    classifier, {"ensemble": ensemble}))
        elif name == "input_gradient_descent":
            entrants.append(Entrant("input gradient descent", name, {"max_iterations": max_iterations}, classifier))
        elif name == "cem_maf_pn":
            entrants.append(Entrant("CEM-MAF PN", name, {"generator_model": 1}, classifier, {"generator": vae}))
        elif name == "counterfactual_interpolation" and glow is not None:
            entrants.append(Entrant("Glow counterfactual", name, {}, glow))
        elif name == "ecinn" and ibinn is not None:
            entrants.append(Entrant("ECINN", name, {}, ibinn))
    return entrants


def comparison_from_checkpoints(
        *, classifier: str | Path, oracle: str | Path | None, vae: str | Path, class_vaes: dict[int, Any],
        ensemble: list, glow: str | Path | None = None, ibinn: str | Path | None = None, n: int = 16,
        reference: int = 2000, methods: tuple[str, ...] = LATENT_METHODS + PIXEL_METHODS + INVERTIBLE,
        max_iterations: int = 500, device: str | None = None, readout: bool = True,
        params: dict[str, dict[str, Any]] | None = None, out: str | Path | None = None,
        figure: str | Path | None = None, cache_dir: Path | None = None,
        progress: Callable[[dict], None] | None = None) -> tuple[list[dict], dict[str, str]]:
    """The comparison table rows and the files written (JSON and CSV under ``out``, the figure)."""
    from explainers.core import pixels
    from explainers.core.evaluation import counterfactual_comparison as cc
    from explainers.core.methods.registry import method_list
    from explainers.core.training.loop import resolve_device

    if n < 1:
        raise ValueError("n must be at least 1")
    device = resolve_device(device)
    main = _load(classifier, device)
    images_u8, labels, reference_u8 = held_out(main.dataset, n, reference, cache_dir)
    images = pixels.to_tensor(images_u8).to(device)
    generator = _load(vae, device).model
    networks = {
        "oracle": _load(oracle, device).model if oracle else None,
        "class_vaes": {int(label): _load(path, device).model for label, path in class_vaes.items()},
        "ensemble": [_load(path, device).model for path in ensemble],
        "glow": _load(glow, device).model if glow else None,
        "ibinn": _load(ibinn, device).model if ibinn else None,
    }
    reference_images = pixels.to_tensor(reference_u8).to(device)
    entrants = entrants_for(classifier=main.model, vae=generator, ensemble=networks["ensemble"],
                            glow=networks["glow"], ibinn=networks["ibinn"], methods=methods,
                            max_iterations=max_iterations, reference=reference_images, available=method_list())
    for entrant in entrants:  # researcher overrides, e.g. {"clarity": {"lam": 0.05}}
        entrant.params = {**entrant.params, **(params or {}).get(entrant.method, {})}
    read, names, read_size = None, (), None
    if readout and main.dataset.get("kind", "two4two") == "two4two":
        from explainers.core.evaluation.counterfactual_quality import REGRESSED_PARAMETERS, shipped_readout

        # the shipped 64 px read-out; other sizes are resized to it
        read_size = READOUT_SIZE
        read = shipped_readout(read_size)
        names = REGRESSED_PARAMETERS if read is not None else ()
    rows, details = cc.compare(entrants, images, classifier=main.model,
                               oracle=networks["oracle"], vae=generator, class_vaes=networks["class_vaes"],
                               readout=read, parameter_names=names, readout_size=read_size, progress=progress)
    files: dict[str, str] = {}
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        record = {"classifier": classifier, "oracle": oracle, "vae": vae, "class_vaes": class_vaes,
                  "ensemble": ensemble, "glow": glow, "ibinn": ibinn, "params": params or {}, "n": n,
                  "device": device, "rows": rows, "per_image": {label: d["metrics"] for label, d in details.items()}}
        (folder / "comparison.json").write_text(json.dumps(record, indent=2, default=str))
        with open(folder / "comparison.csv", "w", newline="") as handle:
            keys = [k for k, _, _ in cc.COLUMNS] + ["registered_name", "images", "error"]
            writer = csv.DictWriter(handle, fieldnames=keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        files.update(json=str(folder / "comparison.json"), csv=str(folder / "comparison.csv"))
    if figure and details:
        cc.example_figure(images.cpu(), details, Path(figure))
        files["figure"] = str(figure)
    return rows, files

"""Is a progressive-exaggeration explainer what the paper promises? Its three properties, what it changes in
ground-truth terms, and the bias test.

Singla et al. (seeds/progressive-exaggeration.txt):

* **compatibility with f** (section 2.2, Figure 3): the requested posterior f(x) + delta against the achieved
  f(x_delta), as a Pearson correlation, the mean absolute gap and the Figure-3 plot (mean +- s.d. of the
  achieved posterior per requested value, with the diagonal);
* **self-consistency** (section 2.3): I_f(x, 0) ~ x and the cycle I_f(I_f(x, delta), c_f(x, 0)) ~ x, as the
  mean L1 pixel distance and as re-classification (does f give the reconstruction the class and posterior
  of x?);
* **data consistency** (section 2.1, Table 1): the Frechet distance between real and generated images in
  the penultimate features of an independent classifier the platform trained on real Two4Two images (an
  "oracle" CNN, explainers.core.training.cnn; FID's Inception network has never seen Two4Two), overall
  and in the two end groups (posterior >= 0.9, < 0.1), beside the distance between two halves of the real
  images as the floor a perfect generator would reach;
* **ground truth** (what the paper could not measure): which Two4Two parameters change along a row, read by
  the same per-parameter read-outs as the ideal-counterfactual check (evaluation.counterfactual_quality:
  change per unit logit of each parameter); the biased classifier's explainer should change colour, the
  unbiased one the arms;
* **confounding** (section 4.4, Table 3): exaggerate every image to each class's end bin and count how often
  the confounding attribute (object colour, read out and split at 0.5) differs from the query's.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor

from explainers.core import pixels
from explainers.core.methods.progressive_exaggeration import exaggerate, requested_posteriors, served_scores
from explainers.core.nets.exaggeration import ExaggerationNet

from .counterfactual_quality import REGRESSED_PARAMETERS, ParameterReadout, change_per_logit

#: Posterior thresholds of the end groups (the paper's "present" and "absent" tenths, Table 1).
PRESENT, ABSENT = 0.9, 0.1
#: Fewest images per group for a Frechet distance (fewer give NaN).
MIN_GROUP = 10
#: The confounding attribute: object colour above this value of obj_color (warm) or not (cool).
COLOUR_SPLIT = 0.5


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def as_tensor(images, explainer: ExaggerationNet) -> Tensor:
    """uint8 arrays or float tensors as float tensors on the explainer's device."""
    device = next(explainer.parameters()).device
    return (pixels.to_tensor(images) if isinstance(images, np.ndarray) else images.float()).to(device)


@torch.no_grad()
def explanation_rows(explainer: ExaggerationNet, forward, images, *, steps: int = 10,
                     batch_size: int = 64) -> dict[str, Any]:
    """Rows across the posterior range for every image: x, f(x), requested and achieved posteriors (N x K), the
    served uint8 images (N x K x H x W x C) and the served logits of the target class (N x K)."""
    explainer.eval()
    x = as_tensor(images, explainer)
    parts: dict[str, list] = {key: [] for key in ("probability", "requested", "achieved", "logits", "images")}
    for part in _batches(len(x), batch_size):
        probability = explainer.posterior(forward, x[part])
        requested = requested_posteriors(probability, steps=steps)
        generated, _ = exaggerate(explainer, x[part], requested)
        logits, achieved = served_scores(forward, generated, explainer.config.target_class)
        n, k = requested.shape
        served = pixels.to_uint8(generated.reshape(n * k, *generated.shape[2:]))
        for key, value in (("probability", probability), ("requested", requested), ("achieved", achieved),
                           ("logits", logits), ("images", served.reshape(n, k, *served.shape[1:]))):
            parts[key].append(value.cpu().numpy() if isinstance(value, Tensor) else value)
    return {"x": x, **{key: np.concatenate(values) for key, values in parts.items()}}


def compatibility(requested: np.ndarray, achieved: np.ndarray) -> dict[str, Any]:
    """Correlation between requested and achieved posteriors, the mean |gap|, and the mean per requested value."""
    r, a = np.asarray(requested, dtype=np.float64).ravel(), np.asarray(achieved, dtype=np.float64).ravel()
    correlation = float(np.corrcoef(r, a)[0, 1]) if r.std() > 0 and a.std() > 0 else float("nan")
    per_value = {f"{value:.3f}": {"mean": float(a[np.isclose(r, value)].mean()),
                                  "std": float(a[np.isclose(r, value)].std())} for value in np.unique(r.round(6))}
    return {"correlation": correlation, "mean_abs_gap": float(np.abs(r - a).mean()), "cells": int(r.size),
            "per_requested": per_value}


def compatibility_figure(requested: np.ndarray, achieved: np.ndarray, path, *, title: str = "") -> None:
    """Figure 3: expected f(x) + delta against the achieved f(x_delta) (mean +- s.d. and every cell)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r, a = np.asarray(requested).ravel(), np.asarray(achieved).ravel()
    values = np.unique(r.round(6))
    means = [a[np.isclose(r, v)].mean() for v in values]
    stds = [a[np.isclose(r, v)].std() for v in values]
    figure, axis = plt.subplots(figsize=(4, 4), dpi=110)
    axis.scatter(r + np.random.default_rng(0).uniform(-0.01, 0.01, r.size), a, s=3, alpha=0.15, color="#7f8c8d")
    axis.errorbar(values, means, yerr=stds, color="#c0392b", marker="o", capsize=3, label="mean ± s.d.")
    axis.plot([0, 1], [0, 1], "k--", lw=1, label="ideal")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("requested f(x) + δ")
    axis.set_ylabel("achieved f(x_δ)")
    axis.set_title(title or "Compatibility with the classifier", fontsize=9)
    axis.legend(fontsize=8, loc="upper left")
    figure.savefig(path, bbox_inches="tight")
    plt.close(figure)


@torch.no_grad()
def self_consistency(explainer: ExaggerationNet, forward, images, *, steps: int = 10,
                     batch_size: int = 64) -> dict[str, float]:
    """I_f(x, 0) against x, and the cycle G(E(x_delta), c_f(x, 0)) against x for every requested column."""
    explainer.eval()
    x = as_tensor(images, explainer)
    sums = {"identity_l1": 0.0, "identity_same_class": 0.0, "identity_posterior_gap": 0.0,
            "cycle_l1": 0.0, "cycle_same_class": 0.0, "cycle_posterior_gap": 0.0}
    cycles = 0
    for part in _batches(len(x), batch_size):
        xb = x[part]
        logits = forward(xb)
        probability = torch.softmax(logits, 1)[:, explainer.config.target_class]
        source = explainer.condition(probability, 0.0)
        identity = explainer(xb, source)
        _add_agreement(sums, "identity", forward, explainer, xb, identity, logits, probability)
        exaggerated, _ = exaggerate(explainer, xb, requested_posteriors(probability, steps=steps))
        for k in range(exaggerated.shape[1]):
            back = explainer(exaggerated[:, k], source)
            _add_agreement(sums, "cycle", forward, explainer, xb, back, logits, probability)
            cycles += 1
    n = len(x)
    return {key: value / (n * (steps if key.startswith("cycle") else 1)) for key, value in sums.items()}


def _add_agreement(sums, prefix, forward, explainer, x, reconstruction, logits, probability) -> None:
    served = pixels.to_tensor(pixels.to_uint8(reconstruction.cpu()), x.dtype).to(x.device)
    again = forward(served)
    sums[f"{prefix}_l1"] += float((reconstruction - x).abs().mean(dim=(1, 2, 3)).sum())
    sums[f"{prefix}_same_class"] += float((again.argmax(1) == logits.argmax(1)).sum())
    sums[f"{prefix}_posterior_gap"] += float(
        (torch.softmax(again, 1)[:, explainer.config.target_class] - probability).abs().sum())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets (rows are samples)."""
    from scipy import linalg

    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(s_a @ s_b))
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2.0 * root))


@torch.no_grad()
def image_features(feature_fn: Callable[[Tensor], Tensor], images: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """Features (N x D, float64) of uint8 N x H x W x C images (on the device of the network ``feature_fn`` is
    a method of)."""
    owner = getattr(feature_fn, "__self__", None)
    device = next(owner.parameters()).device if isinstance(owner, torch.nn.Module) else torch.device("cpu")
    return np.concatenate([feature_fn(pixels.to_tensor(images[part], device=device)).double().cpu().numpy()
                           for part in _batches(len(images), batch_size)])


def data_consistency(feature_fn, real_images: np.ndarray, real_probability: np.ndarray,
                     generated_images: np.ndarray, generated_probability: np.ndarray) -> dict[str, float]:
    """Frechet distances real vs generated (overall, present, absent) and between halves of the real images."""
    real, fake = image_features(feature_fn, real_images), image_features(feature_fn, generated_images)
    real_p, fake_p = np.asarray(real_probability), np.asarray(generated_probability)

    def group(mask_real, mask_fake) -> float:
        if mask_real.sum() < MIN_GROUP or mask_fake.sum() < MIN_GROUP:
            return float("nan")
        return frechet_distance(real[mask_real], fake[mask_fake])

    half = len(real) // 2
    return {"overall": group(np.ones(len(real), bool), np.ones(len(fake), bool)),
            "present": group(real_p >= PRESENT, fake_p >= PRESENT),
            "absent": group(real_p < ABSENT, fake_p < ABSENT),
            "real_halves": frechet_distance(real[:half], real[half:]),
            "real_images": int(len(real)), "generated_images": int(len(fake)), "feature_dim": int(real.shape[1])}


def parameter_changes(readout: ParameterReadout, rows: dict[str, Any]) -> dict[str, Any]:
    """Change per unit logit of every read-out parameter along the rows, ranked (counterfactual_quality's read-out)."""
    change = change_per_logit(readout, rows["images"], rows["logits"].astype(np.float64))
    size = {key: abs(values["per_logit_std_units"]) for key, values in change.items()}
    ranking = sorted(size, key=lambda key: -size[key] if math.isfinite(size[key]) else 0.0)
    arm, colour = size["arm_position"], size["obj_color"]
    return {"change_per_logit": change, "ranking": ranking,
            "colour_over_arms": colour / arm if arm > 0 else float("nan")}


def colour_attribute(readout: ParameterReadout, images: np.ndarray) -> np.ndarray:
    """The confounding attribute of uint8 images: 1 where the read-out object colour exceeds COLOUR_SPLIT."""
    index = REGRESSED_PARAMETERS.index("obj_color")
    values = readout.read(images)[:, index] * readout.std[index] + readout.mean[index]
    return (values > COLOUR_SPLIT).astype(np.int64)


def confounding(query_attribute: np.ndarray, explained_attribute: dict[str, np.ndarray]) -> dict[str, Any]:
    """Table 3: per target class, the share of explanations with each attribute value and the share whose
    attribute differs from the query's ("overall"; small = unconfounded)."""
    query = np.asarray(query_attribute)
    result = {}
    for target, attribute in explained_attribute.items():
        attribute = np.asarray(attribute)
        if attribute.shape != query.shape:
            raise ValueError(f"{target}: {attribute.shape[0]} explanations for {query.shape[0]} queries")
        result[target] = {"attribute_1": float((attribute == 1).mean()), "attribute_0": float((attribute == 0).mean()),
                          "flipped": float((attribute != query).mean())}
    return result


@torch.no_grad()
def confounding_metric(explainer: ExaggerationNet, forward, images: np.ndarray, readout: ParameterReadout,
                       class_names, *, batch_size: int = 64) -> dict[str, Any]:
    """Exaggerate each image to each class's end (posterior bin of 0.95 or 0.05) and compare colour attributes."""
    target_name = class_names[explainer.config.target_class]
    other_name = next((n for i, n in enumerate(class_names) if i != explainer.config.target_class), "other")
    ends = {target_name: 1.0 - 0.5 / explainer.config.num_bins, other_name: 0.5 / explainer.config.num_bins}
    x = as_tensor(images, explainer)
    explained = {}
    for name, value in ends.items():
        served = []
        for part in _batches(len(x), batch_size):
            requested = torch.full((part.stop - part.start, 1), value)
            generated, _ = exaggerate(explainer, x[part], requested)
            served.append(pixels.to_uint8(generated[:, 0]))
        explained[name] = colour_attribute(readout, np.concatenate(served))
    query = colour_attribute(readout, images if isinstance(images, np.ndarray) else pixels.to_uint8(x))
    # The colour the explainer adds when it moves an image to the target class rather than away from it: the
    # generator's own colour errors cancel in this difference, the classifier's reliance on colour does not.
    shift = float(explained[target_name].mean() - explained[other_name].mean())
    return {"attribute": "object colour > 0.5 (read out)", "query_attribute_1": float(query.mean()),
            "attribute_1_shift_to_target": shift, **confounding(query, explained)}


@torch.no_grad()
def training_snapshot(model: ExaggerationNet, forward, images: np.ndarray) -> dict[str, float]:
    """The cheap numbers recorded while training: compatibility over every bin and the identity L1."""
    was_training = model.training
    rows = explanation_rows(model, forward, images, steps=model.config.num_bins)
    x = rows["x"]
    identity = model(x, model.condition(torch.as_tensor(rows["probability"], device=x.device), 0.0))
    model.train(was_training)
    compat = compatibility(rows["requested"], rows["achieved"])
    return {"val_correlation": compat["correlation"], "val_mean_abs_gap": compat["mean_abs_gap"],
            "val_identity_l1": float((identity - x).abs().mean())}


def evaluate(explainer: ExaggerationNet, forward, images: np.ndarray, *, steps: int = 10,
             oracle_features: Callable[[Tensor], Tensor] | None = None, readout: ParameterReadout | None = None,
             class_names=("sticky", "stretchy"), figure=None, title: str = "") -> dict[str, Any]:
    """Every measure above on held-out real ``images`` (uint8): compatibility and self-consistency always;
    data consistency given ``oracle_features``; parameter changes and confounding given a Two4Two ``readout``;
    the Figure-3 plot written to ``figure`` when given."""
    with torch.no_grad():
        rows = explanation_rows(explainer, forward, images, steps=steps)
        report: dict[str, Any] = {"images": int(len(images)), "steps": steps,
                                  "compatibility": compatibility(rows["requested"], rows["achieved"]),
                                  "self_consistency": self_consistency(explainer, forward, images, steps=steps)}
        if oracle_features is not None:
            report["data_consistency"] = data_consistency(
                oracle_features, images, rows["probability"], rows["images"].reshape(-1, *images.shape[1:]),
                rows["achieved"].ravel())
        if readout is not None:
            report["parameters"] = parameter_changes(readout, rows)
            report["confounding"] = confounding_metric(explainer, forward, images, readout, list(class_names))
    if figure is not None:
        compatibility_figure(rows["requested"], rows["achieved"], figure, title=title)
        report["figure"] = str(figure)
    return report

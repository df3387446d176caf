"""The comparison table of counterfactual methods (Clarity Table 1-2 and CEM-MAF section 4 as numbers).

Every entrant explains the same held-out images towards the same target (the other class, or the most
probable other class) and is scored on the 8-bit images it would serve:

* **validity** - the share of counterfactuals the explained classifier assigns to the target, and the share an
  independent *oracle* classifier (another architecture trained on other data) assigns to it: a counterfactual
  that fools only its own classifier is an adversarial example (Clarity, section 1);
* **proximity** - L1 in pixels (mean |x' - x| per value, so 0-1 whatever the image size) and L1 in the latent
  space of one shared VAE (||mu(x') - mu(x)||_1, the same encoder for every method);
* **realism** - IM1 (Van Looveren & Klaise 2021): ||x' - AE_t(x')||^2 / (||x' - AE_o(x')||^2 + eps), AE_t an
  autoencoder trained only on the target class, AE_o one trained only on the original class; below 1 the
  counterfactual is better explained by the target class's data than by the original's;
* **ground truth** - for Two4Two, the change of each scene parameter read from the images by the read-out of
  explainers.core.evaluation.counterfactual_quality (standard deviations of the unbiased sampler): the
  arms decide the class, everything else should stay;
* **cost** - network evaluations counted by the methods (``extra["evaluations"]``: forward and backward passes
  of each network, per image) and wall time per counterfactual.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from explainers.core import pixels
from explainers.core.methods.gradients import logit_function
from explainers.core.methods.registry import MethodError, method_config, method_get

#: The Glow's counterfactual is asked for the logit whose probability is Algorithm 1's gamma.
GAMMA = 0.99
ARMS = "arm_position"


@dataclass
class Entrant:
    """One method as the comparison runs it: the model it explains (the shared classifier, or an invertible
    model that explains itself), its parameters and auxiliary networks."""

    label: str
    method: str
    params: dict[str, Any]
    model: Any
    auxiliaries: dict[str, Any] = field(default_factory=dict)
    explain_kwargs: dict[str, Any] = field(default_factory=dict)
    #: One-off work before the timed search (Clarity's latent ensemble, trained once per VAE and classifier);
    #: its seconds are reported apart from the per-image time.
    prepare: Callable[[], None] | None = None


@dataclass
class Run:
    entrant: Entrant
    counterfactuals: torch.Tensor | None  # N×C×H×W as served (8-bit bin centres)
    targets: torch.Tensor | None
    evaluations: list[int] | None
    seconds: float
    error: str = ""
    setup_seconds: float = 0.0
    iterations: list[int] | None = None  # gradient (or greedy) steps per row, where the method searches


def served(x: torch.Tensor) -> torch.Tensor:
    return pixels.to_tensor(pixels.to_uint8(x.detach().clamp(0, 1).cpu()))


def glow_target_logits() -> list[float]:
    """The Glow's two columns: the binary logits whose class probability is GAMMA for class 0 and class 1."""
    magnitude = math.log(GAMMA / (1 - GAMMA))
    return [-magnitude, magnitude]


def run_entrant(entrant: Entrant, images: torch.Tensor) -> Run:
    """Explain ``images`` with one entrant; a method that refuses is recorded with its reason, not dropped.

    The invertible model's counterfactual interpolation gets the two columns of :func:`glow_target_logits`
    and each row keeps the column of the class it does not predict.
    """
    invertible = entrant.method == "counterfactual_interpolation"
    if entrant.method == "ecinn":
        return _run_ecinn(entrant, images)
    try:
        params = {"target_logits": glow_target_logits(), **entrant.params} if invertible else entrant.params
        method = method_get(entrant.method)(method_config(entrant.method, params))
        if not invertible and method.output != "images":
            raise MethodError(f"{entrant.method} does not produce counterfactual images")
        started = time.perf_counter()
        if entrant.prepare is not None:
            entrant.prepare()
        setup = time.perf_counter() - started
        started = time.perf_counter()
        if invertible:
            explanation = method.explain(entrant.model, images.to(next(entrant.model.parameters()).dtype))
        else:
            explanation = method.explain(entrant.model, images, entrant.auxiliaries, **entrant.explain_kwargs)
        seconds = time.perf_counter() - started
    except (MethodError, ValueError, RuntimeError, TypeError) as exc:
        return Run(entrant, None, None, None, 0.0, error=str(exc).splitlines()[0][:200])
    extra = explanation.extra
    if invertible:
        targets = 1 - _argmax(entrant.model, images)
        chosen = explanation.images[torch.arange(images.shape[0]), targets.to(explanation.images.device)]
    else:
        targets = torch.as_tensor(extra["target_class"])
        chosen = explanation.images[:, -1]
    return Run(entrant, served(chosen), targets, extra.get("evaluations"), seconds, setup_seconds=setup,
               iterations=extra.get("iterations"))


def _run_ecinn(entrant: Entrant, images: torch.Tensor) -> Run:
    """ECINN (its IB-INN explains itself): every class's columns are computed; each row keeps the column of
    its most probable other class at alpha1 (the "convincing" step). Its evaluations are what it reports
    (one forward pass per image, one inverse pass per column), charged per counterfactual kept."""
    from explainers.core.methods._counterfactual_search import resolve_targets

    try:
        method = method_get("ecinn")(method_config("ecinn", entrant.params))
        started = time.perf_counter()
        explanation = method.explain(entrant.model, images)
        seconds = time.perf_counter() - started
    except (MethodError, ValueError, RuntimeError, TypeError) as exc:
        return Run(entrant, None, None, None, 0.0, error=str(exc).splitlines()[0][:200])
    with torch.no_grad():
        logits = logit_function(entrant.model)(images.to(next(entrant.model.parameters()).dtype))
        _, targets = resolve_targets(logits.cpu(), "other", "ecinn")
    index = {(c["target_class"], c["alpha"]): k for k, c in enumerate(explanation.columns)}
    chosen = torch.stack([explanation.images[i, index[(int(t), "alpha1")]] for i, t in enumerate(targets)])
    n, k = images.shape[0], len(explanation.columns)
    reported = explanation.extra["network_evaluations"]
    per_image = reported["forward"] / n + reported["inverse"] / (n * k)
    return Run(entrant, served(chosen), targets, [per_image] * n, seconds)


def _argmax(model, x: torch.Tensor) -> torch.Tensor:
    parameter = next(model.parameters())
    with torch.no_grad():
        return logit_function(model)(x.to(parameter.device, parameter.dtype)).argmax(1).cpu()


def reconstruction_error(vae, x: torch.Tensor) -> torch.Tensor:
    """||x - D(mu(x))||^2 per image."""
    parameter = next(vae.parameters())
    with torch.no_grad():
        x = x.to(parameter.device, parameter.dtype)
        return (vae.reconstruct(x) - x).pow(2).flatten(1).sum(1).cpu()


def im1(class_vaes: dict[int, Any], x: torch.Tensor, original: torch.Tensor, target: torch.Tensor,
        eps: float = 1e-8) -> torch.Tensor:
    """IM1 per image (NaN where a class has no autoencoder)."""
    out = torch.full((x.shape[0],), float("nan"), dtype=torch.float64)
    for i in range(x.shape[0]):
        t, o = int(target[i]), int(original[i])
        if t in class_vaes and o in class_vaes:
            numerator = reconstruction_error(class_vaes[t], x[i:i + 1])
            denominator = reconstruction_error(class_vaes[o], x[i:i + 1])
            out[i] = float(numerator) / (float(denominator) + eps)
    return out


def latent_l1(vae, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    parameter = next(vae.parameters())
    with torch.no_grad():
        za = vae.encode(a.to(parameter.device, parameter.dtype))[0]
        zb = vae.encode(b.to(parameter.device, parameter.dtype))[0]
    return (za - zb).abs().sum(1).cpu()


def read_parameters(readout, x: torch.Tensor, size: int | None) -> np.ndarray:
    """The read-out's parameters of served images; images of another size are resized bilinearly to the size
    it was trained at (as the CEM-MAF attribute functions do)."""
    if size is None or x.shape[-1] == size:
        return readout.read(pixels.to_uint8(x))
    resized = torch.nn.functional.interpolate(x.float(), size=(size, size), mode="bilinear", align_corners=False)
    return readout.read(pixels.to_uint8(resized))


def row_metrics(run: Run, images: torch.Tensor, *, classifier, oracle, vae, class_vaes: dict[int, Any],
                readout=None, parameter_names: tuple[str, ...] = (), readout_size: int | None = None
                ) -> dict[str, Any]:
    """Per-image metrics of one run (lists of length N); see the module docstring."""
    x, cf, targets = images.detach().cpu(), run.counterfactuals, run.targets.cpu()
    judge = run.entrant.model if run.entrant.method in ("counterfactual_interpolation", "ecinn") else classifier
    original = _argmax(judge, x)
    metrics = {
        "valid": (_argmax(judge, cf) == targets).tolist(),
        "valid_oracle": (_argmax(oracle, cf) == targets).tolist() if oracle is not None else None,
        "l1_pixels": (cf - x).abs().flatten(1).mean(1).tolist(),
        "l1_latent": latent_l1(vae, cf, x).tolist() if vae is not None else None,
        "im1": im1(class_vaes, cf, original, targets).tolist() if class_vaes else None,
        "evaluations": run.evaluations,
    }
    if readout is not None:
        change = read_parameters(readout, cf, readout_size) - read_parameters(readout, x, readout_size)
        metrics["parameter_change"] = {name: np.abs(change[:, j]).tolist() for j, name in enumerate(parameter_names)}
    return metrics


def _mean(values) -> float | None:
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64)
    array = array[np.isfinite(array)]
    return float(array.mean()) if array.size else None


def summary_row(run: Run, metrics: dict[str, Any] | None, n: int) -> dict[str, Any]:
    """One table row: the means over images (None where a metric does not apply)."""
    row: dict[str, Any] = {"method": run.entrant.label, "registered_name": run.entrant.method, "images": n,
                           "error": run.error}
    if metrics is None:
        return row
    row.update({
        "validity": _mean(metrics["valid"]), "validity_oracle": _mean(metrics["valid_oracle"]),
        "l1_pixels": _mean(metrics["l1_pixels"]), "l1_latent": _mean(metrics["l1_latent"]),
        "im1": _mean(metrics["im1"]), "evaluations": _mean(metrics["evaluations"]),
        "seconds_per_image": run.seconds / n, "setup_seconds": run.setup_seconds,
        "iterations": _mean(run.iterations),
        # a batch's row-steps share the wall time: the cost of one step of one row
        "ms_per_step": 1000 * run.seconds / sum(run.iterations) if run.iterations and sum(run.iterations) else None,
    })
    change = metrics.get("parameter_change")
    if change:
        row["arms_change"] = _mean(change.get(ARMS))
        others = [np.asarray(v) for k, v in change.items() if k != ARMS]
        row["other_parameters_change"] = float(np.mean(others)) if others else None
        row["parameter_change"] = {k: _mean(v) for k, v in change.items()}
    return row


def _warm_up(classifier, images: torch.Tensor) -> None:
    """One-off costs (the optimizer's lazy imports, CUDA kernels' first launch) before any method is timed,
    so that the first method's seconds are not charged with them."""
    x = images[:1].detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=1e-3)
    logit_function(classifier)(x.to(next(classifier.parameters()).dtype)).sum().backward()
    optimizer.step()
    if x.is_cuda:
        torch.cuda.synchronize()


def compare(entrants: list[Entrant], images: torch.Tensor, *, classifier, oracle=None, vae=None,
            class_vaes: dict[int, Any] | None = None, readout=None, parameter_names: tuple[str, ...] = (),
            readout_size: int | None = None, progress=None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(table rows, per-image details and the served counterfactuals by label) for ``entrants`` on ``images``."""
    rows, details = [], {}
    _warm_up(classifier, images)
    for entrant in entrants:
        run = run_entrant(entrant, images)
        metrics = None
        if not run.error:
            metrics = row_metrics(run, images, classifier=classifier, oracle=oracle, vae=vae,
                                  class_vaes=class_vaes or {}, readout=readout, parameter_names=parameter_names,
                                  readout_size=readout_size)
            details[entrant.label] = {"metrics": metrics, "counterfactuals": run.counterfactuals,
                                      "targets": run.targets.tolist()}
        rows.append(summary_row(run, metrics, images.shape[0]))
        if progress is not None:
            progress(rows[-1])
    return rows, details


COLUMNS = (("method", "method", "{}"), ("validity", "valid", "{:.2f}"), ("validity_oracle", "oracle", "{:.2f}"),
           ("l1_pixels", "L1 px", "{:.4f}"), ("l1_latent", "L1 z", "{:.2f}"), ("im1", "IM1", "{:.3f}"),
           ("arms_change", "Δarms", "{:.2f}"), ("other_parameters_change", "Δother", "{:.2f}"),
           ("iterations", "steps", "{:.0f}"), ("evaluations", "evals/img", "{:.0f}"),
           ("ms_per_step", "ms/step", "{:.2f}"), ("seconds_per_image", "s/img", "{:.3f}"),
           ("setup_seconds", "setup s", "{:.1f}"))


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table; "-" where a metric does not apply; methods that could not run are listed below it."""
    header = [title for _, title, _ in COLUMNS]
    lines, notes = [], []
    for row in rows:
        if row.get("error"):
            notes.append(f"{row['method']}: not run ({row['error']})")
            continue
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            missing = value is None or (isinstance(value, float) and not math.isfinite(value))
            cells.append("-" if missing else fmt.format(value))
        lines.append(cells)
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out += ["  ".join(c.ljust(w) for c, w in zip(cells, widths)) for cells in lines]
    return "\n".join(out + notes)


def example_figure(images: torch.Tensor, details: dict[str, Any], path, *, rows: int = 4) -> None:
    """Rows of [original | one counterfactual per method] for the first ``rows`` images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(details)
    rows = min(rows, images.shape[0])
    figure, axes = plt.subplots(rows, len(labels) + 1, figsize=(1.3 * (len(labels) + 1), 1.4 * rows), squeeze=False)
    for r in range(rows):
        for c, (title, image) in enumerate([("original", images[r])] +
                                           [(label, details[label]["counterfactuals"][r]) for label in labels]):
            ax = axes[r][c]
            array = image.permute(1, 2, 0).numpy()
            ax.imshow(array[..., 0] if array.shape[-1] == 1 else array, cmap="gray" if array.shape[-1] == 1 else None,
                      vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(title, fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)

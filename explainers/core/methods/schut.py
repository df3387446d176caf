"""Schut et al.: sparse counterfactuals by greedy pixel changes under an ensemble, in pixel space.

Schut et al., "Generating interpretable counterfactual explanations by implicit minimisation of epistemic
and aleatoric uncertainties" (AISTATS 2021), as summarised by Theobald et al.
(seeds/clarity-latent-counterfactuals.txt, section 2, eq. 2): minimise the ensemble's mean cross-entropy
(1/M) sum_m CE(C_m(X'), y') with a JSMA-style search (Papernot et al. 2016): each iteration changes the one
input value whose gradient is largest in magnitude by a fixed step ``step`` (the paper's figure uses delta =
0.2) in the direction that lowers the loss, clipped to [0, 1]; a value at its bound in that direction is
skipped. The search stops once the ensemble predicts y' with mean probability above ``gamma`` (0.99) or
after ``max_iterations`` (500). An "input value" is one channel of one pixel.

The ensemble is the explained classifier plus the auxiliary members (``ensemble_model``: registered
classifiers of the same classes, e.g. platform CNNs trained from other seeds), as for REVISE-E (revise.py),
so the classifier being explained always takes part.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import _counterfactual_search as cs
from ._base import images_to_tensor, positive_int
from .registry import register_method
from .revise import check_member_keys


@register_method("schut", requires=("gradients",), auxiliary=("ensemble",))
class Schut:
    """One row per image: [original | X'] with few changed values; ``extra["changed_values"]`` counts them."""

    output = "images"

    @dataclass(frozen=True)
    class Config:
        ensemble_model: tuple[int, ...] = ()
        target: str | int = cs.TARGET_OTHER
        step: float = 0.2
        gamma: float = 0.99
        max_iterations: int = 500

        def __post_init__(self) -> None:
            object.__setattr__(self, "ensemble_model", check_member_keys(self.ensemble_model, "schut"))
            cs.check_target(self.target)
            cs.check_unit(self.step, "step", high=1.0)
            cs.check_gamma(self.gamma)
            positive_int(self.max_iterations, "max_iterations", maximum=100_000)

    def __init__(self, config: "Schut.Config"):
        self.config = config

    def explain(self, model, images, auxiliaries: dict | None = None):
        c = self.config
        device, dtype = cs.model_device_dtype(model)
        x = images_to_tensor(images, "schut", dtype=dtype, device=device)
        members = cs.members_of(auxiliaries, "schut", required=True)
        forwards = cs.ensemble_forwards(model, members, x, "schut")
        with torch.no_grad():
            predictions, targets = cs.resolve_targets(forwards[0](x), c.target, "schut")
        targets = targets.to(device)
        log = cs.EvaluationLog(x.shape[0])
        counted = cs.counted_ensemble(forwards, log)
        result = greedy_pixel_search(counted, x, targets, step=c.step, gamma=c.gamma,
                                     max_iterations=c.max_iterations, log=log)
        changed = (result.values != x).flatten(1).sum(1)
        return cs.served_explanation(model, result.values, predictions.cpu(), targets.cpu(), result, log,
                                     {"label": "Counterfactual", "counterfactual": "schut"},
                                     extra={"changed_values": [int(v) for v in changed],
                                            "ensemble_size": [len(forwards)] * x.shape[0]})


def greedy_pixel_search(forwards, x: Tensor, targets: Tensor, *, step: float, gamma: float, max_iterations: int,
                        log: cs.EvaluationLog) -> cs.SearchResult:
    """Per row: change the value of largest |d loss / d x| by ``step`` downhill until the ensemble's mean
    target probability exceeds ``gamma`` (> 0.5, so the target is then the ensemble's prediction) or the
    budget is spent."""
    n = x.shape[0]
    current = x.detach().clone()
    reached = torch.zeros(n, dtype=torch.bool)
    iterations = torch.zeros(n, dtype=torch.long)
    probability = torch.zeros(n, dtype=x.dtype)
    active = torch.arange(n)
    for iteration in range(max_iterations + 1):
        log.rows = active
        rows = active.to(x.device)
        values = current[rows].clone().requires_grad_(True)
        loss, prob = cs.mean_probability_loss(forwards, values, targets[rows])
        done = (prob.detach() > gamma).cpu()
        probability[active] = prob.detach().cpu().to(probability.dtype)
        reached[active[done]] = True
        if iteration == max_iterations:
            done = torch.ones_like(done)
        if bool(done.all()):
            break
        grad, = torch.autograd.grad(loss.sum(), values)
        with torch.no_grad():
            direction = -grad.sign()
            movable = ((direction > 0) & (values < 1)) | ((direction < 0) & (values > 0))
            score = grad.abs().masked_fill(~movable, -1.0).flatten(1)
            index = score.argmax(1)
            flat = values.detach().flatten(1).clone()
            picked = torch.arange(len(index), device=x.device)
            moved = flat[picked, index] + step * direction.flatten(1)[picked, index]
            flat[picked, index] = moved.clamp(0, 1)
            keep = (~done).to(x.device)
            current[rows[keep]] = flat[keep].view(-1, *x.shape[1:])
        active = active[~done]
        iterations[active] += 1
    log.rows = torch.arange(n)
    return cs.SearchResult(values=current, reached=reached, iterations=iterations, probability=probability)

"""Gradient descent in input space: the naive counterfactual baseline of Clarity's section 2.

Theobald et al. (seeds/clarity-latent-counterfactuals.txt, section 2, eq. 1): minimise
CE(C(X'), y') + lambda d(X, X') over the image X' itself with Adam ("similarly to the Fast Gradient Sign
Method"), L1 distance, lambda = 0.001, stopping at P(y'|X') > 0.99 or after 500 steps; pixels are kept in
[0, 1]. Without a generative model the changes need not look like anything (the paper's Figure 1a): it is
the comparison's lower bound on realism and upper bound on validity.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import _counterfactual_search as cs
from ._base import images_to_tensor, positive_int
from .gradients import logit_function
from .registry import register_method


@register_method("input_gradient_descent", requires=("gradients",))
class InputGradientDescent:
    """One row per image: [original | X']."""

    output = "images"

    @dataclass(frozen=True)
    class Config:
        target: str | int = cs.TARGET_OTHER
        lam: float = 0.001
        distance: str = "l1"
        gamma: float = 0.99
        max_iterations: int = 500
        learning_rate: float = 0.01

        def __post_init__(self) -> None:
            cs.check_target(self.target)
            cs.check_nonnegative(self.lam, "lam")
            cs.check_distance(self.distance)
            cs.check_gamma(self.gamma)
            positive_int(self.max_iterations, "max_iterations", maximum=100_000)
            cs.check_unit(self.learning_rate, "learning_rate", high=10.0)

    def __init__(self, config: "InputGradientDescent.Config"):
        self.config = config

    def explain(self, model, images, auxiliaries: dict | None = None):
        c = self.config
        device, dtype = cs.model_device_dtype(model)
        x = images_to_tensor(images, "input_gradient_descent", dtype=dtype, device=device)
        forward = logit_function(model)
        cs.class_count(forward, x, "the explained classifier", "input_gradient_descent")
        with torch.no_grad():
            predictions, targets = cs.resolve_targets(forward(x), c.target, "input_gradient_descent")
        targets = targets.to(device)
        log = cs.EvaluationLog(x.shape[0])
        counted = cs.Counted(forward, log, "classifier")

        def objective(values: Tensor, rows: Tensor):
            ce, prob = cs.mean_probability_loss([counted], values, targets[rows])
            return ce + c.lam * cs.distance(values, x[rows], c.distance), prob

        result = cs.search(x, objective, gamma=c.gamma, max_iterations=c.max_iterations,
                           learning_rate=c.learning_rate, log=log, project=lambda v: v.clamp(0, 1))
        return cs.served_explanation(model, result.values, predictions.cpu(), targets.cpu(), result, log,
                                     {"label": "Counterfactual", "counterfactual": "input_gradient_descent"})

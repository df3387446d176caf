"""REVISE and REVISE-E: counterfactuals by gradient descent on a VAE latent, through the decoder.

REVISE (Joshi et al. 2019, as stated in seeds/clarity-latent-counterfactuals.txt, section 3, eq. 3):
  minimise_z' CE(C(G(z')), y') + lambda d(X, G(z')),  z' starting at the encoder's mean mu(X),
so every gradient step runs the decoder and the explained classifier forward and backward (the cost Clarity
avoids). The distance is image-space L1 by default ("We use lambda = 0.001 with an L1-norm");
``proximity="latent"`` gives the "R-E (latent)" variant of the paper's Table 2, d(z, z').

REVISE-E (eq. 4): the cross-entropy averaged over an ensemble (C_m) of image-space classifiers. The paper
leaves two things open, defined here:
  * the ensemble is the explained classifier C *plus* the auxiliary members (``ensemble_model``), so that
    the classifier being explained always takes part; REVISE is exactly REVISE-E with the ensemble {C};
  * the stopping rule is Algorithm 1's on the ensemble's mean target probability (the quantity eq. 4
    optimises): stop once (1/M) sum_m p_m(y'|G(z')) > gamma, or after N iterations.
The result is therefore valid for the ensemble on average, which may differ from C alone (the comparison
reports validity under C and under an independent oracle for both).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import _counterfactual_search as cs
from ._base import images_to_tensor, positive_int
from .registry import register_method

PROXIMITY_SPACES = ("image", "latent")


@dataclass(frozen=True)
class ReviseConfig:
    """Settings shared by REVISE and REVISE-E (``ensemble_model`` is only read by REVISE-E)."""

    generator_model: int | None = None
    target: str | int = cs.TARGET_OTHER
    lam: float = 0.001
    distance: str = "l1"
    proximity: str = "image"
    gamma: float = 0.99
    max_iterations: int = 500
    learning_rate: float = 0.05

    def __post_init__(self) -> None:
        if self.generator_model is None:
            raise ValueError(f"{self.method_name} needs a generator: set generator_model to a registered VAE")
        positive_int(self.generator_model, "generator_model", maximum=2 ** 62)
        cs.check_target(self.target)
        cs.check_nonnegative(self.lam, "lam")
        cs.check_distance(self.distance)
        if self.proximity not in PROXIMITY_SPACES:
            raise ValueError(f"proximity must be one of {', '.join(PROXIMITY_SPACES)}, got {self.proximity!r}")
        cs.check_gamma(self.gamma)
        positive_int(self.max_iterations, "max_iterations", maximum=100_000)
        cs.check_unit(self.learning_rate, "learning_rate", high=10.0)

    method_name = "revise"


def check_member_keys(value, method: str) -> tuple[int, ...]:
    """``ensemble_model``: a non-empty list of registered model keys."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{method}: ensemble_model must be a list of registered classifier keys, got {value!r}")
    keys = tuple(value)
    if not keys:
        raise ValueError(f"{method} needs an ensemble: ensemble_model must name at least one registered classifier")
    for key in keys:
        positive_int(key, "ensemble_model entry", maximum=2 ** 62)
    if len(set(keys)) != len(keys):
        raise ValueError(f"{method}: ensemble_model names a classifier twice")
    return keys


def revise_search(model, images, auxiliaries: dict | None, config: ReviseConfig, method: str, members: list):
    """The search both methods run; ``members`` are the auxiliary image-space classifiers (empty for REVISE)."""
    device, dtype = cs.model_device_dtype(model)
    x = images_to_tensor(images, method, dtype=dtype, device=device)
    generator = cs.generator_of(auxiliaries, x, method)
    forwards = cs.ensemble_forwards(model, members, x, method)
    with torch.no_grad():
        predictions, targets = cs.resolve_targets(forwards[0](x), config.target, method)
    targets = targets.to(device)
    log = cs.EvaluationLog(x.shape[0])
    encode = cs.Counted(lambda v: generator.encode(v)[0], log, "encoder")
    decode = cs.Counted(generator.decode, log, "decoder")
    counted = cs.counted_ensemble(forwards, log)
    with torch.no_grad():
        z = encode(x)

    def objective(values: Tensor, rows: Tensor):
        decoded = decode(values)
        ce, prob = cs.mean_probability_loss(counted, decoded, targets[rows])
        if config.proximity == "image":
            penalty = cs.distance(decoded, x[rows], config.distance)
        else:
            penalty = cs.distance(values, z[rows], config.distance)
        return ce + config.lam * penalty, prob

    result = cs.search(z, objective, gamma=config.gamma, max_iterations=config.max_iterations,
                       learning_rate=config.learning_rate, log=log)
    with torch.no_grad():
        counterfactuals = generator.decode(result.values)  # the last iterate's image, already decoded once
    latent_l1 = cs.distance(result.values, z, "l1")
    return cs.served_explanation(model, counterfactuals, predictions.cpu(), targets.cpu(), result, log,
                                 {"label": "Counterfactual", "counterfactual": method},
                                 extra={"latent_l1": [round(float(v), 6) for v in latent_l1],
                                        "ensemble_size": [len(forwards)] * x.shape[0]})


@register_method("revise", requires=("gradients",), auxiliary=("generator",))
class Revise:
    """One row per image: [original | G(z')] (eq. 3)."""

    output = "images"
    Config = ReviseConfig

    def __init__(self, config: ReviseConfig):
        self.config = config

    def explain(self, model, images, auxiliaries: dict | None = None):
        return revise_search(model, images, auxiliaries, self.config, "revise", [])


@dataclass(frozen=True)
class ReviseEnsembleConfig(ReviseConfig):
    ensemble_model: tuple[int, ...] = ()

    method_name = "revise_e"

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "ensemble_model", check_member_keys(self.ensemble_model, "revise_e"))


@register_method("revise_e", requires=("gradients",), auxiliary=("generator", "ensemble"))
class ReviseEnsemble:
    """One row per image: [original | G(z')] under the ensemble {C} + members (eq. 4; see module doc)."""

    output = "images"
    Config = ReviseEnsembleConfig

    def __init__(self, config: ReviseEnsembleConfig):
        self.config = config

    def explain(self, model, images, auxiliaries: dict | None = None):
        members = cs.members_of(auxiliaries, "revise_e", required=True)
        return revise_search(model, images, auxiliaries, self.config, "revise_e", members)

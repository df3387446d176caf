"""What the gradient-based counterfactual searches share (Clarity, REVISE, REVISE-E, Schut, input descent).

Theobald et al., "Clarity" (seeds/clarity-latent-counterfactuals.txt), compare every method under one
stopping rule (section 2 and Algorithm 1): iterate while the probability of the target class y' is at most
gamma and fewer than N iterations ran. :func:`search` runs that loop for a batch, one row per image; a row
that met the rule is frozen (its iterate is the result) and leaves the batch, so the networks are only ever
evaluated on rows still searching and :class:`Counted` measures what each method really costs.

Targets: ``"other"`` asks for the most probable class other than the prediction (for two classes, the
other one); an integer asks for that class, and an image already predicted as it is refused (a
counterfactual of the prediction itself is meaningless) before anything is optimised.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from explainers.core import pixels

from ._base import Explanation
from .gradients import logit_function
from .registry import MethodError

TARGET_OTHER = "other"
DISTANCES = ("l1", "l2")


class Counted:
    """A network wrapped to count its evaluations: images through forward, images whose gradient flowed back.

    The counts are what the comparison reports as network evaluations (never literals per method); each
    is charged to the batch rows the log says are being evaluated (see :class:`EvaluationLog`).
    """

    def __init__(self, forward: Callable[[Tensor], Tensor], log: "EvaluationLog", name: str):
        self.forward, self.log, self.name = forward, log, name

    def __call__(self, x: Tensor) -> Tensor:
        out = self.forward(x)
        rows = self.log.rows_for(x.shape[0])
        self.log.add(self.name, "forward", rows)
        if out.requires_grad:
            out.register_hook(lambda grad: self.log.add(self.name, "backward", rows) or grad)
        return out


class EvaluationLog:
    """Evaluations per network and batch row: a forward or backward pass of one network on one image is one.

    ``rows`` names the batch rows the next calls evaluate (the whole batch unless :func:`search` narrows it
    to the rows still searching).
    """

    def __init__(self, n: int):
        self.n = n
        self.rows = torch.arange(n)
        self.counts: dict[str, dict[str, Tensor]] = {}

    def rows_for(self, batch: int) -> Tensor:
        if batch != len(self.rows):
            raise RuntimeError(f"a counted network saw {batch} images while {len(self.rows)} rows are searching")
        return self.rows

    def add(self, name: str, kind: str, rows: Tensor) -> None:
        entry = self.counts.setdefault(name, {"forward": torch.zeros(self.n, dtype=torch.long),
                                              "backward": torch.zeros(self.n, dtype=torch.long)})
        entry[kind][rows] += 1

    def per_row(self) -> list[int]:
        total = torch.zeros(self.n, dtype=torch.long)
        for entry in self.counts.values():
            total += entry["forward"] + entry["backward"]
        return [int(v) for v in total]

    def per_row_by_network(self) -> list[dict[str, int]]:
        return [{f"{name} {kind}": int(entry[kind][i]) for name, entry in self.counts.items()
                 for kind in ("forward", "backward")} for i in range(self.n)]

    def total(self) -> int:
        return sum(self.per_row())


def check_target(value: Any) -> Any:
    """A config's ``target``: "other" or a class index >= 0."""
    if value == TARGET_OTHER:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"target must be 'other' or a class index >= 0, got {value!r}")
    return value


def check_unit(value: Any, name: str, *, low: float = 0.0, high: float = 1.0, open_low: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (low < value if open_low else low <= value) or not value <= high:
        raise ValueError(f"{name} must lie in {'(' if open_low else '['}{low}, {high}], got {value!r}")
    return float(value)


def check_gamma(value: Any) -> float:
    """The stopping rule's target probability: above 1/2, so that reaching it makes y' the prediction."""
    return check_unit(value, "gamma", low=0.5, high=1.0)


def check_nonnegative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    return float(value)


def check_distance(value: Any) -> str:
    if value not in DISTANCES:
        raise ValueError(f"distance must be one of {', '.join(DISTANCES)}, got {value!r}")
    return value


def distance(a: Tensor, b: Tensor, kind: str) -> Tensor:
    """Per-row L1 or L2 distance (summed over every dimension but the first)."""
    diff = (a - b).flatten(1)
    return diff.abs().sum(1) if kind == "l1" else diff.pow(2).sum(1).sqrt()


def model_device_dtype(model) -> tuple[torch.device, torch.dtype]:
    try:
        parameter = next(model.parameters())
        return parameter.device, parameter.dtype
    except (AttributeError, StopIteration):
        return torch.device("cpu"), torch.float32


def class_count(forward, x: Tensor, who: str, method: str) -> int:
    with torch.no_grad():
        logits = forward(x[:1])
    if logits.dim() != 2 or logits.shape[1] < 2:
        raise MethodError(f"{method}: {who} must return N×K logits with K >= 2, got {tuple(logits.shape)}")
    return int(logits.shape[1])


def resolve_targets(logits: Tensor, target: Any, method: str) -> tuple[Tensor, Tensor]:
    """(predictions, targets) for ``target`` ("other" or a class index); refuses a target equal to a prediction."""
    predictions = logits.argmax(1)
    k = logits.shape[1]
    if target == TARGET_OTHER:
        masked = logits.clone()
        masked[torch.arange(len(logits)), predictions] = float("-inf")
        return predictions, masked.argmax(1)
    if target >= k:
        raise MethodError(f"{method}: target class {target} does not exist; the classifier has classes 0..{k - 1}")
    same = (predictions == target).nonzero().flatten().tolist()
    if same:
        raise MethodError(f"{method}: the target class {target} equals the classifier's prediction for image(s) "
                          f"{same}; choose another target or target='other'")
    return predictions, torch.full_like(predictions, target)


def ensemble_forwards(model, members, x: Tensor, method: str) -> list:
    """Logit functions of the explained classifier followed by the ensemble members, all with one class count."""
    forwards = [logit_function(model)]
    k = class_count(forwards[0], x, "the explained classifier", method)
    for i, member in enumerate(members):
        forward = logit_function(member)
        k_member = class_count(forward, x, f"ensemble member {i + 1}", method)
        if k_member != k:
            raise MethodError(f"{method}: ensemble member {i + 1} has {k_member} classes but the explained "
                              f"classifier has {k}; every member must classify the same classes")
        forwards.append(forward)
    return forwards


def counted_ensemble(forwards, log: EvaluationLog) -> list[Counted]:
    """The explained classifier ("classifier") and the members ("ensemble member i"), each counted."""
    return [Counted(f, log, "classifier" if i == 0 else f"ensemble member {i}") for i, f in enumerate(forwards)]


def generator_of(auxiliaries: dict | None, x: Tensor, method: str):
    """The auxiliary generator (a VAE: encode/decode) matching the images' shape, else MethodError."""
    generator = (auxiliaries or {}).get("generator")
    if generator is None:
        raise MethodError(f"{method} needs a generator (a VAE of the explained model's images): set "
                          f"generator_model to a registered generator")
    for attribute in ("encode", "decode", "config"):
        if not hasattr(generator, attribute):
            raise MethodError(f"{method}: the generator must be a VAE with encode and decode, got a "
                              f"{type(generator).__name__}")
    c, s = generator.config.in_channels, generator.config.image_size
    if tuple(x.shape[1:]) != (c, s, s):
        raise MethodError(f"{method}: the generator takes {s}×{s} px images with {c} channel(s), but the images "
                          f"are {tuple(x.shape[1:])} (C×H×W); use a VAE trained at the classifier's image size")
    return generator


def members_of(auxiliaries: dict | None, method: str, *, required: bool) -> list:
    members = list((auxiliaries or {}).get("ensemble") or [])
    if required and not members:
        raise MethodError(f"{method} needs an ensemble of classifiers: set ensemble_model to one or more "
                          f"registered classifiers of the same classes")
    return members


@dataclass
class SearchResult:
    values: Tensor  # the final iterate of every row
    reached: Tensor  # bool: the stopping rule's probability exceeded gamma
    iterations: Tensor  # gradient steps taken per row
    probability: Tensor  # the search's own target probability at the final iterate


def search(start: Tensor, objective: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]], *, gamma: float,
           max_iterations: int, learning_rate: float, log: EvaluationLog,
           project: Callable[[Tensor], Tensor] | None = None) -> SearchResult:
    """Algorithm 1's loop for a batch: Adam on ``start``'s rows while p(y') <= gamma and i < N.

    ``objective(values, rows)`` returns (per-row loss, per-row target probability) for the rows still
    searching (``rows`` indexes the batch); ``project`` maps an iterate back into its domain (e.g. [0, 1]).
    """
    variable = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([variable], lr=learning_rate)
    result = start.detach().clone()
    n = start.shape[0]
    reached = torch.zeros(n, dtype=torch.bool)
    iterations = torch.zeros(n, dtype=torch.long)
    probability = torch.zeros(n, dtype=start.dtype)
    active = torch.arange(n)
    for step in range(max_iterations + 1):
        log.rows = active
        loss, prob = objective(variable[active], active.to(start.device))
        prob = prob.detach().cpu()
        done = prob > gamma
        if step == max_iterations:
            done = torch.ones_like(done)
        finished = active[done]
        result[finished.to(start.device)] = variable.detach()[finished.to(start.device)]
        probability[finished] = prob[done].to(probability.dtype)
        reached[finished] = prob[done] > gamma
        if bool(done.all()):
            break
        optimizer.zero_grad(set_to_none=True)
        loss[~done.to(loss.device)].sum().backward()
        optimizer.step()
        active = active[~done]
        iterations[active] += 1
        if project is not None:
            with torch.no_grad():
                variable.copy_(project(variable))
    log.rows = torch.arange(n)
    return SearchResult(values=result, reached=reached, iterations=iterations, probability=probability)


def mean_probability_loss(forwards, values: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 2/4/6's first term: mean cross-entropy over the members, and their mean target probability."""
    losses, probs = [], []
    for forward in forwards:
        logits = forward(values)
        losses.append(F.cross_entropy(logits, targets, reduction="none"))
        probs.append(logits.softmax(1).gather(1, targets[:, None])[:, 0])
    return torch.stack(losses).mean(0), torch.stack(probs).mean(0)


def served_explanation(model, counterfactuals: Tensor, predictions: Tensor, targets: Tensor,
                       result: SearchResult, log: EvaluationLog, column: dict[str, Any],
                       extra: dict[str, Any] | None = None) -> Explanation:
    """One column per row: the counterfactual clamped and scored by the explained classifier as served (8-bit).

    ``extra`` holds per-row lists (length N) plus ``network_evaluations``, the batch's total, which stimulus
    sets add up."""
    images = counterfactuals.detach().clamp(0, 1)
    device, dtype = model_device_dtype(model)
    served = pixels.to_tensor(pixels.to_uint8(images), dtype=dtype, device=device)
    with torch.no_grad():
        logits = logit_function(model)(served)
    target_logit = logits.gather(1, targets.to(logits.device)[:, None])
    n = images.shape[0]
    served_class = logits.argmax(1).cpu()
    return Explanation(
        images=images[:, None], logits=target_logit.cpu(),
        rows=[{"source_index": i, "prediction": int(predictions[i]), "target_class": int(targets[i])}
              for i in range(n)],
        columns=[column], source_index=torch.arange(n)[:, None],
        extra={"target_class": [int(t) for t in targets], "prediction": [int(p) for p in predictions],
               "reached": [bool(r) for r in result.reached], "iterations": [int(i) for i in result.iterations],
               "search_probability": [round(float(p), 6) for p in result.probability],
               "valid": [bool(served_class[i] == targets[i].cpu()) for i in range(n)],
               "evaluations": log.per_row(), "evaluations_by_network": log.per_row_by_network(),
               "network_evaluations": log.total(), **(extra or {})},
    )

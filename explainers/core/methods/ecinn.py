"""ECINN: closed-form counterfactuals from a class-conditional invertible network.

Hvilshoj, Iosifidis & Assent, "ECINN: Efficient Counterfactuals from Invertible Neural Networks"
(seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.3; reference code fhvilshoj/ECINN as summarised
in ../shared/reference/explainers-reference-notes.md, "(b)"):

* preprocessing, once: mbar_j = mean of f(x) over training samples *predicted* as j (stored in the
  checkpoint by explainers.core.training.ibinn);
* D(p, q) = mbar_q - mbar_p for the predicted class p and a target class q;
* the decision boundary between the Gaussians of p and q is w.z + b = 0 with
  w = (mu_q - mu_p) / ||mu_q - mu_p|| and b = -1/2 (mu_p + mu_q).w;
* the tipping point alpha0 = (-b - z.w) / (D.w) puts z + alpha0 D exactly on it (equidistant from mu_p and
  mu_q); the convincing counterfactual uses alpha1 = 4/5 + alpha0/2;
* x^ = f^-1(z + alpha D): one forward and one inverse pass per counterfactual.

Between the distance terms of the logits, l_q - l_p = (alpha - alpha0)(mu_q - mu_p).D along the path
(plus the constant log-prior difference log pi_q - log pi_p of the learned class prior).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ._base import Explanation, as_images
from .registry import MethodError, register_method

ALPHA_NAMES = ("alpha0", "alpha1")


# ---------------------------------------------------------------------------------------- validation

def check_class_conditional(model, method: str = "ecinn") -> None:
    """Refuse models without class-conditional latents or without ECINN's predicted-class means."""
    if not getattr(model, "class_conditional", False) or not hasattr(model, "class_means"):
        architecture = getattr(model, "architecture", type(model).__name__)
        raise MethodError(
            f"{method}: needs a classifier with class-conditional latents (one Gaussian per class, e.g. an "
            f"IB-INN checkpoint, architecture 'ibinn'); {architecture!r} has none - train one with "
            f"`python manage.py train_ibinn`"
        )
    if not model.has_predicted_class_means:
        raise MethodError(
            f"{method}: this model has no mean training embeddings per predicted class (ECINN's preprocessing); "
            f"call explainers.core.training.ibinn.fit_class_means(model, training_images) first"
        )


def check_classes(model, classes, method: str = "ecinn") -> tuple[int, ...]:
    """Every class must exist in the model: 0 .. K-1."""
    k = model.num_classes
    unknown = [c for c in classes if not 0 <= c < k]
    if unknown:
        raise MethodError(f"{method}: unknown class(es) {unknown}; this model knows classes 0..{k - 1}")
    return tuple(classes)


def _class_tuple(value: Any, name: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list of class indices, got {value!r}")
    items = tuple(value)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ValueError(f"{name} must contain non-negative integer class indices, got {item!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat a class, got {list(items)}")
    if len(items) > 1000:
        raise ValueError(f"{name} may hold at most 1000 classes")
    return items


# ------------------------------------------------------------------------------------------ the maths

def ecinn_direction(model, p: Tensor, q: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(D, w, b) per pair (B×D, B×D, B): D = mbar_q - mbar_p; w, b the p/q decision boundary."""
    mbar = model.predicted_class_means
    mu = model.class_means
    delta = mbar[q] - mbar[p]
    difference = mu[q] - mu[p]
    w = difference / difference.norm(dim=1, keepdim=True)
    b = -0.5 * ((mu[p] + mu[q]) * w).sum(1)
    return delta, w, b


def tipping_alpha(z: Tensor, delta: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """alpha0 = (-b - z.w) / (D.w): z + alpha0 D lies on the decision boundary between p and q."""
    denominator = (delta * w).sum(1)
    if bool((denominator.abs() < 1e-12).any()):
        raise MethodError("ecinn: the class-mean shift D is orthogonal to the decision boundary's normal; "
                          "no tipping point exists for this class pair")
    return (-b - (z * w).sum(1)) / denominator


def convincing_alpha(alpha0: Tensor) -> Tensor:
    """alpha1 = 4/5 + alpha0/2 (ECINN section 3.3, a heuristic for a confident target prediction)."""
    return 0.8 + 0.5 * alpha0


@dataclass(frozen=True)
class ECINNResult:
    """Counterfactuals of N images towards one target each."""

    counterfactuals: Tensor  # N×C×H×W
    z: Tensor                # N×D of the inputs
    z_counterfactual: Tensor  # N×D
    predicted: Tensor        # N
    target: Tensor           # N
    alpha: Tensor            # N
    alpha0: Tensor           # N
    alpha1: Tensor           # N


def ecinn_counterfactual(model, x: Tensor, target, *, alpha: str | float = "alpha1",
                         allow_same: bool = False) -> ECINNResult:
    """x^ = f^-1(f(x) + alpha D(p, q)): exactly one forward and one inverse pass of the network.

    ``target`` is a class index, a tensor of N indices, or "runner_up" (each image's second most likely
    class); ``alpha`` is "alpha0", "alpha1" or a number. A target equal to the predicted class is refused
    (ECINN explains "why p and not q"). Counterfactual images are clamped to [0, 1], the range an image holds.
    """
    return ecinn_counterfactuals(model, x, target, alphas=(alpha,), allow_same=allow_same)[0]


def ecinn_counterfactuals(model, x: Tensor, target, *, alphas=ALPHA_NAMES,
                          allow_same: bool = False) -> list[ECINNResult]:
    """:func:`ecinn_counterfactual` at several alphas: one forward pass, then one inverse pass per alpha."""
    check_class_conditional(model)
    with torch.no_grad():
        latent = model.encode(x)
        z = latent.z
        class_logits = model.class_logits_from_z(z)
        predicted = class_logits.argmax(1)
        if isinstance(target, str):
            if target != "runner_up":
                raise MethodError(f"ecinn: target must be a class index or 'runner_up', got {target!r}")
            q = class_logits.topk(2, dim=1).indices[:, 1]
        else:
            q = torch.as_tensor(target, device=z.device).reshape(-1).expand(z.shape[0]).long()
        check_classes(model, sorted(set(q.tolist())))
        same = q == predicted
        if bool(same.any()) and not allow_same:
            index = int(torch.nonzero(same)[0])
            raise MethodError(f"ecinn: target class {int(q[index])} equals the predicted class of image {index}; "
                              f"choose another target")
        delta, w, b = ecinn_direction(model, predicted, q)
        alpha0 = tipping_alpha(z, delta, w, b)
        alpha1 = convincing_alpha(alpha0)
        results = []
        for alpha in alphas:
            if isinstance(alpha, str):
                if alpha not in ALPHA_NAMES:
                    raise MethodError(
                        f"ecinn: alpha must be one of {', '.join(ALPHA_NAMES)} or a number, got {alpha!r}")
                chosen = alpha0 if alpha == "alpha0" else alpha1
            else:
                chosen = torch.full_like(alpha0, float(alpha))
            chosen = torch.where(same, torch.zeros_like(chosen), chosen)
            z_new = z + chosen[:, None] * delta
            decoded = model.decode(latent.with_z(z_new)).clamp(0, 1)  # valid pixels, as an image can hold
            results.append(ECINNResult(decoded, z, z_new, predicted, q, chosen, alpha0, alpha1))
    return results


# ---------------------------------------------------------------------------------------- the method

def _targets(model, config_targets: tuple[int, ...], method: str) -> tuple[tuple[int, ...], bool]:
    """(target classes, explicit?) - an empty configuration means every class."""
    if config_targets:
        return check_classes(model, config_targets, method), True
    return tuple(range(model.num_classes)), False


@register_method("ecinn", requires=("invertible",))
class ECINN:
    """Rows: input images; columns: (target class, alpha0) and (target class, alpha1) for every target.

    ``target_classes`` empty means every class; in that mode the column pair of an image's own predicted
    class shows the unchanged input. Naming the predicted class of an image explicitly is an error.
    ``explain`` reports ``extra["network_evaluations"]``: one forward pass per image, one inverse pass per
    counterfactual.
    """

    @dataclass(frozen=True)
    class Config:
        target_classes: tuple[int, ...] = ()

        def __post_init__(self) -> None:
            object.__setattr__(self, "target_classes", _class_tuple(self.target_classes, "target_classes"))

    def __init__(self, config: "ECINN.Config"):
        self.config = config

    def check_model(self, model) -> None:
        """Configuration-time checks against a model: class-conditional latents and known classes."""
        check_class_conditional(model, self.name)
        check_classes(model, self.config.target_classes, self.name)

    @torch.no_grad()
    def explain(self, model, images) -> Explanation:
        self.check_model(model)
        x = as_images(model, images, self.name)
        targets, explicit = _targets(model, self.config.target_classes, self.name)
        latent = model.encode(x)
        z = latent.z
        n = z.shape[0]
        predicted = model.class_logits_from_z(z).argmax(1)
        if explicit:
            for q in targets:
                clash = torch.nonzero(predicted == q)
                if len(clash):
                    raise MethodError(f"{self.name}: target class {q} equals the predicted class of image "
                                      f"{int(clash[0])}; leave target_classes empty or choose other classes")
        cells, alphas, columns = [], [], []
        for q in targets:
            qq = torch.full_like(predicted, q)
            same = predicted == qq
            delta, w, b = ecinn_direction(model, predicted, qq)
            # For an image already predicted as q there is no counterfactual: alpha 0 shows the input.
            safe_delta = torch.where(same[:, None], w, delta)
            alpha0 = torch.where(same, torch.zeros_like(b), tipping_alpha(z, safe_delta, w, b))
            alpha1 = torch.where(same, torch.zeros_like(b), convincing_alpha(alpha0))
            for name, alpha in (("alpha0", alpha0), ("alpha1", alpha1)):
                cells.append(z + alpha[:, None] * torch.where(same[:, None], torch.zeros_like(delta), delta))
                alphas.append(alpha)
                columns.append({"target_class": q, "alpha": name})
        z_new = torch.stack(cells, 1).reshape(n * len(cells), -1)
        decoded = torch.cat([model.decode(z_new[s:s + 256]) for s in range(0, z_new.shape[0], 256)]).clamp(0, 1)
        k = len(cells)
        class_logits = model.class_logits_from_z(z_new).view(n, k, -1)
        target_index = torch.tensor([c["target_class"] for c in columns], device=z.device)
        margin = class_logits.gather(2, target_index[None, :, None].expand(n, k, 1))[..., 0] \
            - class_logits.gather(2, predicted[:, None, None].expand(n, k, 1))[..., 0]
        return Explanation(
            images=decoded.view(n, k, *x.shape[1:]), logits=margin,
            rows=[{"source_index": i, "predicted_class": int(predicted[i])} for i in range(n)],
            columns=columns, source_index=torch.arange(n).repeat_interleave(k).view(n, k),
            extra={"alphas": torch.stack(alphas, 1), "predicted": predicted,
                   "class_logits": class_logits, "inputs": x,
                   "network_evaluations": {"forward": n, "inverse": n * k}},
        )

"""CEM-MAF pertinent negatives: what would have to be *added* for the classifier to decide otherwise.

Luss et al., "Generating contrastive explanations with monotonic attribute functions"
(seeds/cem-maf-contrastive-explanations.txt, section 3.1, problem (1); supplement section 1). Over a latent
code z of a generator D (here the platform's VAE, the auxiliary "generator" model) minimise

    c · max(0, max_{i≠B} f_i(D(z)) − f_B(D(z)) + κ)            hinge towards class B (any class ≠ t0 if none is set)
  + γ · Σ_i max(0, g_i(x0) − g_i(D(z)))                         attributes may only be added (monotonicity)
  + β · Σ_i |g_i(D(z)) − g_i(x0)|                               few attributes added (L1)
  + η · ||x0 − D(z)||²  +  ν · ||z_x0 − z||²                     close in pixels and in the latent space (L2)

The paper's sparsity term is β||g(D(z))||₁ with g ≥ 0 (attribute classifiers); for a solution that decreases
no attribute that is ||g(x0)||₁ plus the L1 of the additions, so the L1 of the change used here has the same
gradient there and also works for read-outs that can be negative (explainers.core.methods._attributes). With
the two L2 terms this is the elastic net of CEM. Optimisation: subgradient descent on z (from the encoder mean
of x0) with a square-root decaying step; c by bisection as in CEM (×10 while no PN is found and no upper bound
exists, else halfway between the bounds: the supplement's "multiply c by 10 if no PN found ... divided by 2 if
PN found"). The PN is the flipped iterate closest to z_x0 in L2 (section 4: "the iterate having the smallest L2
distance ||z_x0 − z_δ||₂ ... among all iterates" that change the prediction), where flipped is judged on the
8-bit image as served and an iterate counts only if no attribute fell by more than ``tolerance``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from explainers.core import pixels

from ._attributes import DEFAULT_TWO4TWO_ATTRIBUTES, AttributeFunctions, attribute_names, contrastive_text, \
    two4two_attributes
from ._base import Explanation, int_between
from ._counterfactual_search import generator_of
from .gradients import _as_input, logit_function
from .registry import MethodError, register_method


def non_negative_float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def positive_float(value: Any, name: str) -> float:
    if non_negative_float(value, name) <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def served(x: Tensor) -> Tensor:
    """The image as participants see it: quantised to 8 bits and read back (explainers.core.pixels)."""
    return pixels.to_tensor(pixels.to_uint8(x), x.dtype, x.device)


def margin_to(logits: Tensor, target: Tensor) -> Tensor:
    """f_B − max_{i≠B} f_i per row: positive when class B wins."""
    own = logits.gather(1, target[:, None])[:, 0]
    others = logits.scatter(1, target[:, None], float("-inf")).max(1).values
    return own - others


def resolve_attributes(attributes: AttributeFunctions | None, names, x: Tensor, num_classes: int,
                       method: str) -> AttributeFunctions:
    found = attributes if attributes is not None else two4two_attributes(names)
    found.check_images(x, method)
    found.check_classes(num_classes, method)
    return found


@dataclass
class PNSearch:
    """Per-row state of the search: the best accepted iterate so far and the bisection bounds on c."""

    best_z: Tensor
    best_image: Tensor
    best_distance: Tensor
    c: Tensor
    lower: Tensor
    upper: Tensor


@register_method("cem_maf_pn", requires=("gradients",), auxiliary=("generator",))
class CEMMAFPertinentNegative:
    """One column: the pertinent negative D(z*) of each image; ``extra`` holds per row whether one was found,
    its class, the attributes added (names, changes in read-out units) and the paper's sentence."""

    output = "images"

    @dataclass(frozen=True)
    class Config:
        generator_model: int | None = None
        target_class: int | None = None
        attributes: tuple[str, ...] = DEFAULT_TWO4TWO_ATTRIBUTES
        kappa: float = 1.0
        gamma: float = 100.0
        beta: float = 1.0
        eta: float = 1.0
        nu: float = 1.0
        c_init: float = 1.0
        search_steps: int = 4
        steps: int = 100
        learning_rate: float = 0.05
        tolerance: float = 0.1
        added_threshold: float = 0.25

        def __post_init__(self) -> None:
            if self.generator_model is None:
                raise ValueError("cem_maf_pn needs a generator: set generator_model to the id of a registered VAE "
                                 "of the explained model's images (train one with train_model --preset vae-two4two)")
            int_between(self.generator_model, "generator_model", 1, 2 ** 63 - 1)
            if self.target_class is not None:
                int_between(self.target_class, "target_class", 0, 9999)
            object.__setattr__(self, "attributes", attribute_names(self.attributes))
            for name in ("kappa", "gamma", "beta", "eta", "nu", "tolerance", "added_threshold"):
                object.__setattr__(self, name, non_negative_float(getattr(self, name), name))
            for name in ("c_init", "learning_rate"):
                object.__setattr__(self, name, positive_float(getattr(self, name), name))
            int_between(self.search_steps, "search_steps", 1, 20)
            int_between(self.steps, "steps", 1, 10_000)

    def __init__(self, config: "CEMMAFPertinentNegative.Config"):
        self.config = config

    def explain(self, model, images, auxiliaries: dict[str, Any] | None = None,
                attributes: AttributeFunctions | None = None) -> Explanation:
        """``auxiliaries["generator"]`` the VAE; ``attributes`` the g_i (default: Two4Two's shipped read-out)."""
        cfg = self.config
        forward = logit_function(model)
        x0 = _as_input(model, images, self.name)
        generator = generator_of(auxiliaries, x0, self.name)
        gen_dtype = next(generator.parameters()).dtype
        with torch.no_grad():
            logits0 = forward(x0)
        n, k = logits0.shape
        attrs = resolve_attributes(attributes, cfg.attributes, x0, k, self.name)
        t0 = logits0.argmax(1)
        if cfg.target_class is not None:
            if cfg.target_class >= k:
                raise MethodError(f"{self.name}: target_class {cfg.target_class} is not a class of this model "
                                  f"(classes 0..{k - 1})")
            target = torch.full_like(t0, cfg.target_class)
            clash = torch.nonzero(target == t0)
            if len(clash):
                raise MethodError(f"{self.name}: target_class {cfg.target_class} equals the predicted class of "
                                  f"image {int(clash[0])}; a pertinent negative explains why not another class")
        else:
            target = logits0.scatter(1, t0[:, None], float("-inf")).argmax(1)  # the runner-up class
        with torch.no_grad():
            z0 = generator.encode(x0.to(gen_dtype))[0]
            g0 = attrs.values(x0, target)
        state = PNSearch(best_z=z0.clone(), best_image=generator.decode(z0).detach().to(x0.dtype),
                         best_distance=torch.full((n,), float("inf"), dtype=x0.dtype, device=x0.device),
                         c=torch.full((n,), cfg.c_init, dtype=x0.dtype, device=x0.device),
                         lower=torch.zeros(n, dtype=x0.dtype, device=x0.device),
                         upper=torch.full((n,), 1e10, dtype=x0.dtype, device=x0.device))
        evaluations = 0
        for _ in range(cfg.search_steps):
            found = self._descend(forward, generator, attrs, x0, z0, g0, t0, target, state)
            evaluations += cfg.steps * 2 * n
            state.upper = torch.where(found, torch.minimum(state.upper, state.c), state.upper)
            state.lower = torch.where(found, state.lower, torch.maximum(state.lower, state.c))
            state.c = torch.where(state.upper < 1e9, (state.lower + state.upper) / 2, state.c * 10)
        return self._explanation(forward, attrs, x0, z0, g0, t0, target, state, evaluations)

    def _descend(self, forward, generator, attrs, x0, z0, g0, t0, target, state: PNSearch) -> Tensor:
        """One run of subgradient descent at the rows' current c; updates the best iterates, returns found."""
        cfg = self.config
        gen_dtype = z0.dtype
        z = z0.clone()
        found = torch.zeros(len(z0), dtype=torch.bool, device=z0.device)
        flipped_towards = target if cfg.target_class is not None else None
        for step in range(cfg.steps):
            z.requires_grad_(True)
            x = generator.decode(z).to(x0.dtype)
            logits = forward(x)
            g = attrs.values(x, target)
            loss = (state.c * torch.relu(cfg.kappa - margin_to(logits, target))
                    + cfg.gamma * torch.relu(g0 - g).sum(1)
                    + cfg.beta * (g - g0).abs().sum(1)
                    + cfg.eta * (x - x0).pow(2).flatten(1).sum(1)
                    + cfg.nu * (z - z0).pow(2).sum(1).to(x0.dtype))
            gradient, = torch.autograd.grad(loss.sum(), z)
            with torch.no_grad():
                z = z.detach()
                predicted = logits.argmax(1)
                candidate = (predicted == flipped_towards) if flipped_towards is not None else predicted != t0
                if bool(candidate.any()):
                    shown = served(x)
                    shown_predicted = forward(shown).argmax(1)
                    flipped = (shown_predicted == flipped_towards) if flipped_towards is not None \
                        else shown_predicted != t0
                    monotone = (g0 - attrs.values(shown, target)).max(1).values <= cfg.tolerance
                    distance = (z - z0).norm(dim=1).to(x0.dtype)
                    better = flipped & monotone & (distance < state.best_distance)
                    state.best_z[better] = z[better]
                    state.best_image[better] = shown[better]
                    state.best_distance[better] = distance[better]
                    found |= flipped & monotone
                rate = cfg.learning_rate * (1 - step / cfg.steps) ** 0.5
                z = z - rate * gradient.to(gen_dtype)
        return found

    def _explanation(self, forward, attrs, x0, z0, g0, t0, target, state: PNSearch, evaluations: int) -> Explanation:
        cfg = self.config
        n = len(x0)
        found = torch.isfinite(state.best_distance)
        image = state.best_image.clamp(0, 1)
        with torch.no_grad():
            logits = forward(served(image))
            change = attrs.values(served(image), target) - g0
        pn_class = logits.argmax(1)
        texts, added_names, changes = [], [], []
        for i in range(n):
            added = [j for j in range(len(attrs.attributes)) if float(change[i, j]) > cfg.added_threshold]
            added_names.append([attrs.names[j] for j in added])
            changes.append([float(v) for v in change[i]])
            if bool(found[i]):
                text = contrastive_text(attrs, added, int(pn_class[i]))
                texts.append(text[0].upper() + text[1:] + ".")
            else:
                texts.append(f"No pertinent negative found: no latent change within {cfg.search_steps} × "
                             f"{cfg.steps} steps made it {attrs.class_names[int(target[i])]} without removing "
                             f"an attribute; the image shown is the generator's reconstruction.")
        return Explanation(
            images=image[:, None], logits=logits.gather(1, pn_class[:, None]),
            rows=[{"source_index": i, "predicted_class": int(t0[i])} for i in range(n)],
            columns=[{"label": "Pertinent negative", "attributes": list(attrs.names)}],
            source_index=torch.arange(n)[:, None],
            extra={"pn_found": [bool(f) for f in found], "pn_class": [int(c) for c in pn_class],
                   "target_class": [int(t) for t in target], "pn_text": texts, "attributes_added": added_names,
                   "attribute_change": changes,
                   "latent_distance": [float(d) if bool(f) else None for d, f in zip(state.best_distance, found)],
                   "pixel_l1": [float(v) for v in (image - x0).abs().flatten(1).mean(1)],
                   "c_final": [float(c) for c in state.c], "network_evaluations": evaluations},
        )

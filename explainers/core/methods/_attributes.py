"""Monotonic attribute functions g_i of CEM-MAF, and the ones the platform learns for Two4Two.

Luss et al. (seeds/cem-maf-contrastive-explanations.txt, section 3): "functions acting on these features with
higher values indicating presence of a certain visual concept"; for continuous latent concepts (their ISIC
lesions) "the g_i functions would be an identity map or negative identity map depending on which direction adds
a certain concept" - and their Figure 1b reads "lighter" in one explanation and "darker" in another, so the
direction is chosen per explanation. Here each attribute is a differentiable read-out of one scene parameter
with one orientation per class: g_i towards class k is ``sign[k] * readout_i`` (or ``|readout_i|`` for a
concept without a side, e.g. "a more bent spine"). A pertinent negative towards class B uses B's orientation,
so "adding" means moving towards what B typically shows; a pertinent positive uses its own class's.

For Two4Two the read-out is the ideal-counterfactual check's parameter regressor
(explainers.core.evaluation.counterfactual_quality, one implementation for both): the shipped
``explainers/checkpoints/two4two-readout-64.pt`` (sha256 sidecar verified on load), trained on the unbiased
sampler at 64 px; images of another size are resized bilinearly before reading (differentiably). Attributes
whose read-out explains less than MIN_READOUT_R2 of its parameter's held-out variance are refused: a
monotonicity constraint on a value the network cannot read would be no constraint (the shipped read-out does
not read ``spherical``, held-out R² 0.05).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .registry import MethodError


@dataclass(frozen=True)
class Attribute:
    """One interpretable concept: the parameter it reads and, per class, the phrase and sign of "more"."""

    parameter: str
    phrases: tuple[str, ...]
    signs: tuple[float, ...]
    magnitude: bool = False


#: Two4Two's interpretable attributes (class 0 Sticky: arms tucked in so the head peeks out, bluer in the study
#: sampler; class 1 Stretchy: arms moved outwards, redder). Bending and shape have no side in the sampler.
TWO4TWO_ATTRIBUTES = {
    "arm_position": Attribute("arm_position", ("more tucked-in arms", "more outstretched arms"), (-1.0, 1.0)),
    "obj_color": Attribute("obj_color", ("a bluer colour", "a redder colour"), (-1.0, 1.0)),
    "bending": Attribute("bending", ("a more bent spine", "a more bent spine"), (1.0, 1.0), magnitude=True),
    "spherical": Attribute("spherical", ("more cubic blocks", "rounder blocks"), (-1.0, 1.0)),
}
DEFAULT_TWO4TWO_ATTRIBUTES = ("arm_position", "obj_color", "bending")


class AttributeFunctions:
    """``values(x, towards)`` -> N×k: every g_i of each image oriented towards that row's class.

    ``raw(x)`` maps images N×C×H×W in [0, 1] to N×k differentiable read-outs (column i for ``attributes[i]``).
    """

    def __init__(self, raw: Callable[[Tensor], Tensor], attributes: Sequence[Attribute],
                 class_names: Sequence[str], *, in_channels: int = 3, source: str = "hand-built"):
        if not attributes:
            raise MethodError("cem_maf: at least one attribute function is needed")
        for attribute in attributes:
            if len(attribute.signs) != len(class_names) or len(attribute.phrases) != len(class_names):
                raise MethodError(f"cem_maf: attribute {attribute.parameter!r} needs one phrase and one sign per "
                                  f"class ({len(class_names)})")
        self.raw, self.attributes, self.class_names = raw, tuple(attributes), tuple(class_names)
        self.in_channels, self.source = in_channels, source

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.parameter for a in self.attributes)

    def check_images(self, x: Tensor, method: str) -> None:
        if x.shape[1] != self.in_channels:
            raise MethodError(f"{method}: the attribute functions ({self.source}) read {self.in_channels}-channel "
                              f"images, got {x.shape[1]} channels")

    def check_classes(self, num_classes: int, method: str) -> None:
        if num_classes != len(self.class_names):
            raise MethodError(f"{method}: the attribute functions ({self.source}) are oriented for "
                              f"{len(self.class_names)} classes, the classifier has {num_classes}")

    def values(self, x: Tensor, towards: Tensor) -> Tensor:
        read = self.raw(x)
        signs = torch.tensor([a.signs for a in self.attributes], dtype=read.dtype, device=read.device).T  # K×k
        magnitude = torch.tensor([a.magnitude for a in self.attributes], device=read.device)
        read = torch.where(magnitude, read.abs(), read)
        return read * signs[towards]

    def phrase(self, index: int, towards: int) -> str:
        return self.attributes[index].phrases[towards]


def contrastive_text(attributes: AttributeFunctions, added: Sequence[int], towards: int) -> str:
    """The sentence the paper's Figure 1 abbreviates as "+brwn hr, +makeup": what adding makes class B."""
    name = attributes.class_names[towards]
    if not added:
        return f"it would be classified as {name} without adding any of the attributes"
    phrases = [attributes.phrase(i, towards) for i in added]
    listed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"adding {listed} would make it {name}"


@lru_cache(maxsize=2)
def _shipped_readout():
    from explainers.core.evaluation.counterfactual_quality import readout_load
    from explainers.core.training.shipped import SHIPPED_DIR

    return readout_load(SHIPPED_DIR / "two4two-readout-64.pt")


def two4two_attributes(names: Sequence[str] = DEFAULT_TWO4TWO_ATTRIBUTES, readout=None, size: int | None = None
                       ) -> AttributeFunctions:
    """Two4Two's attribute functions read by ``readout`` (a ParameterReadout; default the shipped one)."""
    from explainers.core.datasets.two4two import CLASS_NAMES
    from explainers.core.evaluation.counterfactual_quality import MIN_READOUT_R2, REGRESSED_PARAMETERS

    unknown = [n for n in names if n not in TWO4TWO_ATTRIBUTES]
    if unknown or not names:
        raise MethodError(f"cem_maf: unknown Two4Two attribute(s) {unknown or '(none given)'}; "
                          f"choose from {', '.join(TWO4TWO_ATTRIBUTES)}")
    if readout is None:
        readout, size = _shipped_readout()
    unreadable = [n for n in names if readout.r2.get(n, 0.0) < MIN_READOUT_R2]
    if unreadable:
        raise MethodError(f"cem_maf: the Two4Two read-out cannot read {', '.join(unreadable)} (held-out R² "
                          f"{', '.join(f'{readout.r2.get(n, 0.0):.2f}' for n in unreadable)} < {MIN_READOUT_R2}); "
                          f"leave {'it' if len(unreadable) == 1 else 'them'} out of attributes")
    columns = [REGRESSED_PARAMETERS.index(n) for n in names]
    net = readout.net
    net_dtype = next(net.parameters()).dtype

    def raw(x: Tensor) -> Tensor:
        y = x.to(net_dtype)
        if size is not None and y.shape[-1] != size:
            y = F.interpolate(y, size=(size, size), mode="bilinear", align_corners=False)
        return net(y)[:, columns].to(x.dtype)

    class_names = tuple(c.capitalize() for c in CLASS_NAMES)
    return AttributeFunctions(raw, [TWO4TWO_ATTRIBUTES[n] for n in names], class_names,
                              source="the Two4Two parameter read-out")


def attribute_names(value, name: str = "attributes") -> tuple[str, ...]:
    """Config validation of a list of Two4Two attribute names (each once)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list of attribute names, got {value!r}")
    items = tuple(value)
    if not items:
        raise ValueError(f"{name} must name at least one attribute")
    unknown = [v for v in items if v not in TWO4TWO_ATTRIBUTES]
    if unknown:
        raise ValueError(f"{name}: unknown attribute(s) {unknown}; choose from {', '.join(TWO4TWO_ATTRIBUTES)}")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat an attribute, got {list(items)}")
    return items

"""One entry point for every grid kind: the builder of each kind, looked up by the kind's name."""
from __future__ import annotations

from typing import Callable

from .ecinn_grid import build_ecinn_grid
from .layout import ECINN_KINDS, GridLayoutError, GridResult
from .logit_grid import build_logit_grid

BUILDERS: dict[str, Callable[..., GridResult]] = {
    "baseline": build_logit_grid, "counterfactual": build_logit_grid, "isofactual": build_logit_grid,
    **{kind: build_ecinn_grid for kind in ECINN_KINDS},
}


def build_grid(model, images, *, kind: str, **options) -> GridResult:
    """Build every cell of a grid of ``kind``; ``options`` as for build_logit_grid / build_ecinn_grid."""
    builder = BUILDERS.get(kind)
    if builder is None:
        raise GridLayoutError(f"unknown grid kind {kind!r}")
    return builder(model, images, kind=kind, **options)

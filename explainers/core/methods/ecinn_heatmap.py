"""ECINNh: pairwise heatmaps h(x, q) = x^(q) - x from ECINN counterfactuals.

Hvilshoj et al. (seeds/ecinn-efficient-counterfactuals-inn.txt, section 3.3, eq. 4): a large |h| marks a
pixel that must change a lot for the prediction to move from p to q, i.e. one carrying class-dependent
information. The reference heatmap code was never released (reference notes, "Not verified"); we show
the sum over the colour channels of |x^ - x| for the counterfactual at ``alpha`` (the convincing alpha1 by
default): absolute per-channel changes, because a signed sum cancels a change of hue (red up, blue down by as
much reads as no change). The signed per-channel differences stay in ``extra["heatmaps"]``, and
``extra["heatmap_scale"]`` is the largest value of all maps of the call, the one colour scale that makes the
maps of different images and targets comparable (explainers.core.stimuli.ecinn_grid uses one per stimulus set).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ._base import Explanation
from .ecinn import ALPHA_NAMES, ECINN
from .registry import register_method


def change_map(counterfactual: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """h = Σ_c |x^_c - x_c| over the colour channels (…×C×H×W -> …×H×W, never negative): how much the
    counterfactual differs at each pixel, a hue swap included."""
    return (counterfactual - x).abs().sum(-3)


@register_method("ecinn_heatmap", requires=("invertible",))
class ECINNHeatmap:
    """Rows: input images; columns: target classes; ``maps`` (N×T×H×W) the heatmaps, ``images`` x^."""

    @dataclass(frozen=True)
    class Config:
        target_classes: tuple[int, ...] = ()
        alpha: str = "alpha1"

        def __post_init__(self) -> None:
            ECINN.Config(target_classes=self.target_classes)  # the same class validation
            object.__setattr__(self, "target_classes", tuple(self.target_classes))
            if self.alpha not in ALPHA_NAMES:
                raise ValueError(f"alpha must be one of {', '.join(ALPHA_NAMES)}, got {self.alpha!r}")

    def __init__(self, config: "ECINNHeatmap.Config"):
        self.config = config
        self._ecinn = ECINN(ECINN.Config(target_classes=config.target_classes))
        self._ecinn.name = self.name

    def check_model(self, model) -> None:
        self._ecinn.check_model(model)

    @torch.no_grad()
    def explain(self, model, images) -> Explanation:
        full = self._ecinn.explain(model, images)
        keep = [j for j, column in enumerate(full.columns) if column["alpha"] == self.config.alpha]
        counterfactuals = full.images[:, keep]
        x = full.extra["inputs"]
        heatmaps = counterfactuals - x[:, None]
        n = counterfactuals.shape[0]
        maps = change_map(counterfactuals, x[:, None])
        return Explanation(
            images=counterfactuals, logits=full.logits[:, keep], rows=full.rows,
            columns=[{**full.columns[j]} for j in keep], maps=maps,
            source_index=full.source_index[:, keep],
            extra={"heatmaps": heatmaps, "alphas": full.extra["alphas"][:, keep], "predicted": full.extra["predicted"],
                   "inputs": x, "heatmap_scale": float(maps.max()) if maps.numel() else 0.0, "network_evaluations": {"forward": n, "inverse": n * len(full.columns)}},
        )

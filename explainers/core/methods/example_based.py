"""Example-based baseline: real images binned by the model's logit (the seed study's baseline condition).

Sixt et al. (seeds/invertibility-ideal-counterfactuals-user-study.txt, section 3.3; reference code
``analysis.py``): column j shows images whose logit falls into bin j, the bin edges being the midpoints
between the column targets (with -inf/+inf at the ends), drawn without replacement with a fixed seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._base import Explanation, as_images, float_tuple, logits_batched, positive_int
from .binning import assign_bins, bin_counts, bin_edges, draw_per_bin
from .registry import MethodError, register_method


@register_method("example_based")
class ExampleBased:
    """``explain(model, pool)``: ``per_column`` rows, one column per target logit, cells drawn from the pool."""

    @dataclass(frozen=True)
    class Config:
        target_logits: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)
        per_column: int = 6
        seed: int = 0

        def __post_init__(self) -> None:
            targets = float_tuple(self.target_logits, "target_logits")
            if list(targets) != sorted(set(targets)):
                raise ValueError("target_logits must be strictly increasing")
            positive_int(self.per_column, "per_column", maximum=1000)
            if isinstance(self.seed, bool) or not isinstance(self.seed, int):
                raise ValueError(f"seed must be an integer, got {self.seed!r}")
            object.__setattr__(self, "target_logits", targets)

    def __init__(self, config: "ExampleBased.Config"):
        self.config = config

    def select(self, scores: np.ndarray) -> np.ndarray:
        """Indices [per_column, columns] of images whose score falls in each target's bin, drawn without
        replacement from one seeded generator, bin after bin.

        ``scores`` are the images' logits, or their negation for a layout whose columns run from positive to
        negative logits (then ``target_logits`` are the negated, ascending targets).
        """
        config = self.config
        columns = len(config.target_logits)
        edges = bin_edges(config.target_logits)
        bins = assign_bins(scores, edges)
        counts = bin_counts(bins, columns)
        for column in range(columns):
            if counts[column] < config.per_column:
                raise MethodError(
                    f"{self.name}: only {int(counts[column])} images have a logit in bin {column} "
                    f"[{edges[column]:.2f}, {edges[column + 1]:.2f}); {config.per_column} are needed - "
                    f"use a larger pool or other target_logits"
                )
        return draw_per_bin(bins, config.per_column, columns, config.seed).T

    @torch.no_grad()
    def explain(self, model, images) -> Explanation:
        config = self.config
        x = as_images(model, images, self.name)
        logits = logits_batched(model, x)
        edges = bin_edges(config.target_logits)
        index = torch.from_numpy(np.ascontiguousarray(self.select(logits.cpu().numpy())))
        return Explanation(
            images=x[index.flatten()].view(*index.shape, *x.shape[1:]), logits=logits[index],
            rows=[{"draw": r} for r in range(config.per_column)],
            columns=[{"target_logit": t, "bin_low": float(edges[j]), "bin_high": float(edges[j + 1])}
                     for j, t in enumerate(config.target_logits)],
            source_index=index,
        )

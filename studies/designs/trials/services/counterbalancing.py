"""Counterbalanced trial lists, pure (Luss et al., section 5).

"Each of the three methods is assigned to both explanations 1 and 2 such that a user sees each of the six
permutations four times (the second survey with four explanations has twelve permutations that are each
seen twice). Each trial draws a random image from a batch of 76 images for which we have ran all methods."
Here every ordered pair of the k methods occurs equally often in each participant's list, the order is shuffled
per participant and the images are drawn without repetition from the pool images that every method explains.
"""
from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

M = TypeVar("M")
I = TypeVar("I")  # noqa: E741


@dataclass(frozen=True)
class PlannedTrial:
    position: int
    first: object
    second: object
    image: object


def ordered_pairs(methods: Sequence[M]) -> list[tuple[M, M]]:
    """Every ordered pair of two different methods: k(k-1) of them."""
    return list(itertools.permutations(methods, 2))


def balance_problem(*, methods: int, trials: int, pool: int) -> str | None:
    """Why ``trials`` trials cannot balance ``methods`` methods over ``pool`` images, or None."""
    if methods < 2:
        return f"Compare at least two methods (the study has {methods})."
    pairs = methods * (methods - 1)
    if trials % pairs:
        lower, upper = (trials // pairs) * pairs, (trials // pairs + 1) * pairs
        options = f"{lower} or {upper}" if lower else str(upper)
        return (f"{trials} trials cannot show each of the {pairs} ordered pairs of {methods} methods equally "
                f"often; use a multiple of {pairs} (e.g. {options}).")
    if trials > pool:
        return (f"{trials} trials need {trials} different images, but only {pool} pool image(s) have an "
                "explanation from every method.")
    return None


def counterbalanced_plan(methods: Sequence[M], images: Sequence[I], *, trials: int,
                         rng: random.Random) -> list[PlannedTrial]:
    """A shuffled list of ``trials`` trials: every ordered method pair trials / k(k-1) times, distinct images."""
    problem = balance_problem(methods=len(methods), trials=trials, pool=len(images))
    if problem:
        raise ValueError(problem)
    pairs = ordered_pairs(methods) * (trials // (len(methods) * (len(methods) - 1)))
    rng.shuffle(pairs)
    chosen = rng.sample(list(images), trials)
    return [PlannedTrial(position=index + 1, first=first, second=second, image=image)
            for index, ((first, second), image) in enumerate(zip(pairs, chosen, strict=True))]

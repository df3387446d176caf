"""Counterbalanced trial lists (Luss et al., section 5).

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

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.models import Participant, Study
from studies.services import ParticipantFinished, StudyUnavailable

from ..models import Trial, TrialSession
from .configuration import complete_pool, setup_problems

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


def trials_allocate(*, participant: Participant, rng: random.Random | None = None) -> Participant:
    """Store the participant's trial list at consent (idempotent: an allocated participant keeps theirs).

    The study row is locked like in between-group assignment, so the configuration cannot change under it.
    Raises StudyUnavailable for a study that is not live or not fully configured.
    """
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=participant.study_id)
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if TrialSession.objects.filter(participant=participant).exists():
            return participant
        if participant.status != Participant.Status.ACTIVE:
            raise ParticipantFinished({"participant": "This session has ended."})
        if study.status != Study.Status.LIVE or setup_problems(study=study):
            raise StudyUnavailable(study.status if study.status != Study.Status.LIVE else "draft")
        seed = (rng or random.SystemRandom()).randrange(2 ** 62)
        methods, images = complete_pool(study=study)
        try:
            plan = counterbalanced_plan(methods, images, trials=study.trial_setup.trials_per_participant,
                                        rng=random.Random(seed))
        except ValueError as error:
            raise ValidationError({"trials": str(error)}) from None
        TrialSession.objects.create(participant=participant, seed=seed)
        Trial.objects.bulk_create([
            Trial(participant=participant, position=p.position, first_method=p.first, second_method=p.second,
                  pool_image=p.image) for p in plan
        ])
        return participant

"""Storing each participant's counterbalanced trial list at consent (the plan is in counterbalancing.py)."""
from __future__ import annotations

import random

from django.core.exceptions import ValidationError
from django.db import transaction

from studies.models import Participant, Study
from studies.services import ParticipantFinished, StudyUnavailable
from studies.services.durability import commit_flushed_by_consent
from studies.services.locks import participant_lock, study_lock

from ..models import Trial, TrialSession
from .configuration import complete_pool, setup_problems
from .counterbalancing import counterbalanced_plan


def trials_allocate(*, participant: Participant, rng: random.Random | None = None) -> Participant:
    """Store the participant's trial list at consent (idempotent: an allocated participant keeps theirs).

    The study row is locked like in between-group assignment, so the configuration cannot change under it.
    Raises StudyUnavailable for a study that is not live or not fully configured.
    """
    with transaction.atomic():
        commit_flushed_by_consent()  # the consent's commit right after flushes it
        study = study_lock(participant.study_id)
        participant = participant_lock(participant)
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

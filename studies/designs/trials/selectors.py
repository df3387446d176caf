"""Reads of the trials design: a participant's current trial, the dashboard's counts, the stored trial lists."""
from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count, Q, QuerySet

from studies.models import Participant, Study

from .models import ExplanationImage, Trial, TrialMethod, TrialSession


def current_trial(*, participant: Participant) -> Trial | None:
    session = TrialSession.objects.filter(participant=participant).first()
    if session is None:
        return None
    return (Trial.objects.select_related("pool_image", "first_method", "second_method")
            .filter(participant=participant, position=session.current_position).first())


def trial_count(*, participant: Participant) -> int:
    return Trial.objects.filter(participant=participant).count()


def explanation_image(*, method: TrialMethod, trial: Trial) -> ExplanationImage | None:
    return ExplanationImage.objects.filter(method=method, pool_image_id=trial.pool_image_id).first()


def instruction_examples(*, study: Study) -> list[dict[str, Any]]:
    """One example explanation per method (of the first pool image every method explains) for the instructions."""
    from .services.configuration import complete_pool

    methods, images = complete_pool(study=study)
    if not images:
        return []
    example = images[0]
    by_method = {e.method_id: e for e in ExplanationImage.objects.filter(pool_image=example)}
    return [{"method": method, "explanation": by_method.get(method.pk), "pool_image": example} for method in methods]


def study_trials(*, study: Study, include_simulated: bool = True) -> QuerySet[Trial]:
    trials = (Trial.objects.filter(participant__study=study)
              .select_related("participant", "pool_image", "first_method", "second_method")
              .order_by("participant_id", "position"))
    return trials if include_simulated else trials.filter(participant__is_simulated=False)


def permutation_balance(*, study: Study, include_simulated: bool = False) -> dict[str, Any]:
    """How often each ordered method pair was allocated, and answered, across participants."""
    trials = Trial.objects.filter(participant__study=study)
    if not include_simulated:
        trials = trials.filter(participant__is_simulated=False)
    rows = (trials.values("first_method__key", "second_method__key")
            .annotate(allocated=Count("pk"), answered=Count("pk", filter=Q(second_rating__isnull=False)))
            .order_by("first_method__key", "second_method__key"))
    pairs = [{"first": r["first_method__key"], "second": r["second_method__key"], "allocated": r["allocated"],
              "answered": r["answered"]} for r in rows]
    answered = [p["answered"] for p in pairs]
    return {"pairs": pairs, "answered_min": min(answered, default=0), "answered_max": max(answered, default=0)}


def progress_counts(*, study: Study, include_simulated: bool = False) -> dict[str, Any]:
    """Participants by status and trials answered (both ratings) out of those allocated."""
    participants = Participant.objects.filter(study=study)
    trials = Trial.objects.filter(participant__study=study)
    if not include_simulated:
        participants = participants.filter(is_simulated=False)
        trials = trials.filter(participant__is_simulated=False)
    statuses = Counter(participants.values_list("status", flat=True))
    return {
        "participants": dict(statuses),
        "with_trials": participants.filter(trial_session__isnull=False).count(),
        "trials_allocated": trials.count(),
        "trials_answered": trials.filter(second_rating__isnull=False).count(),
        "first_ratings": trials.filter(first_rating__isnull=False).count(),
    }

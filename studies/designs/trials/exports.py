"""The trial lists participants saw, with their ratings and revision counts, as flat rows (CSV and API)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, Q

from studies.models import Study

from . import selectors
from .models import TrialRating

TRIAL_EXPORT_COLUMNS = [
    "participant", "is_simulated", "status", "position", "image", "prediction", "first_method", "second_method",
    "first_rating", "second_rating", "first_answered_at", "second_answered_at", "first_revisions",
    "second_revisions",
]


def trial_export_rows(*, study: Study, include_simulated: bool = False) -> Iterator[dict[str, Any]]:
    """One row per allocated trial, in each participant's order; participants appear by their record id."""
    trials = selectors.study_trials(study=study, include_simulated=include_simulated).annotate(
        first_revisions=Count("revisions", filter=Q(revisions__question=TrialRating.FIRST)),
        second_revisions=Count("revisions", filter=Q(revisions__question=TrialRating.SECOND)),
    )
    for trial in trials.iterator(chunk_size=2000):
        yield {
            "participant": trial.participant_id, "is_simulated": trial.participant.is_simulated,
            "status": trial.participant.status, "position": trial.position, "image": trial.pool_image.key,
            "prediction": trial.pool_image.prediction, "first_method": trial.first_method.key,
            "second_method": trial.second_method.key, "first_rating": trial.first_rating,
            "second_rating": trial.second_rating,
            "first_answered_at": trial.first_answered_at.isoformat() if trial.first_answered_at else "",
            "second_answered_at": trial.second_answered_at.isoformat() if trial.second_answered_at else "",
            "first_revisions": trial.first_revisions, "second_revisions": trial.second_revisions,
        }

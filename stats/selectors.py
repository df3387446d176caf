"""Reads for the stats app: what an analysis or an export needs from the studies tables, in few queries."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet, Sum

from studies.models import Condition, Item, PageVisit, Participant, Response, Study

from .models import Analysis, Hypothesis

# Participants who reached the end of the study. Those who failed an attention check are among them: the
# exclusion rules of an analysis and the attention_failed column of an export decide what to do with them.
FINISHED_STATUSES = (Participant.Status.COMPLETED, Participant.Status.FAILED_ATTENTION)


@dataclass
class StudyData:
    """Everything an analysis reads, as plain values (no lazy ORM access later)."""

    conditions: list[Condition]
    items: list[Item]
    participants: list[dict[str, Any]]
    responses: dict[int, dict[int, tuple[int | None, str]]]  # participant id -> item id -> (int, text)
    stimulus_seconds: dict[int, float]
    # participant id -> item id -> when the current answer was saved; filled only when asked for
    answered_at: dict[int, dict[int, datetime]] = field(default_factory=dict)


def study_for_user(*, slug: str, user) -> Study | None:
    """The study if ``user`` may see its analysis and data (owner, or superuser); None if not allowed."""
    study = Study.objects.select_related("owner").filter(slug=slug).first()
    if study is None or not user.is_authenticated:
        return None
    if study.owner_id == user.pk or user.is_superuser:
        return study
    return None


def study_data(
    *,
    study: Study,
    include_simulated: bool = True,
    include_unfinished: bool = True,
    answer_times: bool = False,
) -> StudyData:
    """The study's conditions, items, participants and current answers.

    ``include_simulated`` / ``include_unfinished`` False leave out simulated participants / those who did
    not reach the end (FINISHED_STATUSES), with their answers. ``answer_times`` also reads when each
    answer was saved.
    """
    participants = Participant.objects.filter(study=study)
    if not include_simulated:
        participants = participants.filter(is_simulated=False)
    if not include_unfinished:
        participants = participants.filter(status__in=FINISHED_STATUSES)
    participant_rows = list(
        participants.order_by("pk").values(
            "pk", "condition_id", "status", "is_simulated", "attention_failed", "external_id", "platform",
            "platform_session_id", "assignment_id", "excluded_reason", "started_at", "completed_at",
        )
    )
    columns = ["participant_id", "item_id", "value_int", "value_text"] + (["updated_at"] if answer_times else [])
    rows = Response.objects.filter(item__study=study).values_list(*columns)
    if not include_simulated:
        rows = rows.filter(participant__is_simulated=False)
    if not include_unfinished:
        rows = rows.filter(participant__status__in=FINISHED_STATUSES)
    responses: dict[int, dict[int, tuple[int | None, str]]] = defaultdict(dict)
    answered_at: dict[int, dict[int, datetime]] = defaultdict(dict)
    for row in rows.iterator(chunk_size=5000):
        participant_id, item_id, value_int, value_text = row[:4]
        responses[participant_id][item_id] = (value_int, value_text)
        if answer_times:
            answered_at[participant_id][item_id] = row[4]
    seconds = _stimulus_seconds(study)
    return StudyData(
        conditions=list(Condition.objects.filter(study=study).order_by("order", "pk")),
        items=list(Item.objects.filter(study=study).order_by("page", "order", "pk")),
        participants=participant_rows,
        responses=dict(responses),
        stimulus_seconds={pk: float(total or 0.0) for pk, total in seconds.items()},
        answered_at=dict(answered_at),
    )


def _stimulus_seconds(study: Study) -> dict[int, float]:
    """Seconds on the stimulus page per participant, summed over visits (a reload opens a new visit)."""
    return dict(
        PageVisit.objects.filter(participant__study=study, page="stimulus")
        .values("participant_id")
        .annotate(total=Sum("seconds"))
        .values_list("participant_id", "total")
    )


def analysis_list(*, study: Study) -> QuerySet[Analysis]:
    return Analysis.objects.filter(study=study).select_related("created_by")


def analysis_latest(*, study: Study, parameters: dict[str, Any], data_hash: str) -> Analysis | None:
    """The newest stored analysis of exactly this data with exactly these parameters, if any."""
    for analysis in Analysis.objects.filter(study=study, data_hash=data_hash).order_by("-created_at", "-pk"):
        if analysis.parameters == parameters:
            return analysis
    return None


def hypothesis_list(*, study: Study) -> QuerySet[Hypothesis]:
    return Hypothesis.objects.filter(study=study).order_by("key")

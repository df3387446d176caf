"""Which items a participant annotates: every item collects exactly k votes from distinct participants.

A place on an item is taken by a participant who completed the study or is still active (seen within the
assignment cutoff, the rule the between-group design uses for conditions). Participants who returned the
task, timed out, abandoned or failed an attention check free their places, which go to later arrivals.
Real and simulated participants fill their own k places, so a simulation never takes a real place.
The study row is locked while places are counted and handed out (SELECT ... FOR UPDATE on PostgreSQL;
SQLite serialises writers), so concurrent arrivals never over-allocate an item.
"""
from __future__ import annotations

import random
from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from studies import selectors
from studies.models import Participant, Study
from studies.services import ParticipantFinished, StudyUnavailable
from studies.services.durability import commit_flushed_by_consent
from studies.services.locks import participant_lock, study_lock

from ..models import AnnotationAllocation, AnnotationItem
from .configuration import annotation_settings_for


def _place_is_taken(now: datetime, *, is_simulated: bool) -> Q:
    return Q(released_at__isnull=True, participant__is_simulated=is_simulated) & (
        Q(participant__status=Participant.Status.COMPLETED)
        | Q(participant__status=Participant.Status.ACTIVE,
            participant__last_seen_at__gte=selectors.active_cutoff(now))
    )


def item_places_taken(*, study: Study, is_simulated: bool = False, now: datetime | None = None,
                      exclude_participant: Participant | None = None) -> Counter:
    """Taken places per item pk (attention items included, though they have no limit)."""
    allocations = AnnotationAllocation.objects.filter(item__task__study=study).filter(
        _place_is_taken(now or timezone.now(), is_simulated=is_simulated))
    if exclude_participant is not None:
        allocations = allocations.exclude(participant=exclude_participant)
    return Counter(allocations.values_list("item_id", flat=True))


def _placement(item: AnnotationItem, rng: random.Random) -> list[int]:
    positions = sorted(image.position for image in item.images.all())
    if item.task.is_two_alternative:
        # Left/right placement of a pair is randomised (and stored) so position cannot answer the question.
        rng.shuffle(positions)
    return positions


def annotation_allocate(*, participant: Participant, rng: random.Random | None = None) -> Participant:
    """Give the participant up to ``items_per_participant`` items that still lack votes, plus every attention item.

    The least-voted items go first (ties at random), so items fill evenly and the study ends with every item
    at k. Item order and pair placement are randomised per participant and stored. Idempotent: a participant
    with items keeps them. Raises StudyUnavailable("full") when no item needs a vote.
    """
    rng = rng or random.SystemRandom()
    with transaction.atomic():
        commit_flushed_by_consent()  # the consent's commit right after flushes it
        study = study_lock(participant.study_id)
        participant = participant_lock(participant)
        if participant.annotation_allocations.exists():
            return participant
        if participant.status != Participant.Status.ACTIVE:
            raise ParticipantFinished({"participant": "This session has ended."})
        if study.status != Study.Status.LIVE:
            raise StudyUnavailable(study.status)
        settings_row = annotation_settings_for(study)
        now = timezone.now()
        taken = item_places_taken(study=study, is_simulated=participant.is_simulated, now=now)
        items = list(AnnotationItem.objects.filter(task__study=study).select_related("task")
                     .prefetch_related("images").order_by("task__order", "order", "pk"))
        open_items = [item for item in items if not item.is_attention and taken[item.pk] < settings_row.votes_per_item]
        if not open_items:
            raise StudyUnavailable("full")
        rng.shuffle(open_items)
        open_items.sort(key=lambda item: taken[item.pk])
        chosen = open_items[:settings_row.items_per_participant] + [item for item in items if item.is_attention]
        rng.shuffle(chosen)
        AnnotationAllocation.objects.bulk_create([
            AnnotationAllocation(participant=participant, item=item, position=position,
                                 placement=_placement(item, rng))
            for position, item in enumerate(chosen, start=1)
        ])
        participant.last_seen_at = now
        participant.save(update_fields=["last_seen_at"])
        return participant


def allocations_refresh(*, participant: Participant, now: datetime | None = None) -> int:
    """Release the participant's unanswered items whose places went to others while they were away.

    A participant who timed out or returned freed their places; when they come back, items that meanwhile
    collected k places elsewhere are taken off their list (they would otherwise get a (k+1)-th vote).
    Returns how many were released.
    """
    now = now or timezone.now()
    with transaction.atomic():
        study = study_lock(participant.study_id)
        pending = list(AnnotationAllocation.objects.filter(
            participant=participant, released_at__isnull=True, vote__isnull=True, item__is_attention=False))
        if not pending:
            return 0
        k = annotation_settings_for(study).votes_per_item
        taken = item_places_taken(study=study, is_simulated=participant.is_simulated, now=now,
                                  exclude_participant=participant)
        full = [allocation.pk for allocation in pending if taken[allocation.item_id] >= k]
        if full:
            AnnotationAllocation.objects.filter(pk__in=full).update(released_at=now)
        return len(full)

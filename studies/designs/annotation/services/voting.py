"""A participant's votes: the next item to show, storing a vote once, finishing the study.

Invalid input raises ValidationError and stores nothing: a vote on an item not allocated to this participant,
an answer that is not one of the item's choices, a second and different vote on the same item
(VoteConflict). Sending the same vote again (a network retry) is answered like the first time.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies.models import Participant
from studies.services import PageOutOfDate, ParticipantFinished, page_visit_close
from studies.services.locks import participant_lock

from ..models import AnnotationAllocation, AnnotationVote

ANNOTATE_PAGE = "annotate"
COMPLETE_PAGE = "complete"


class VoteConflict(ValidationError):
    """A second, different vote on an item the participant has already voted on."""


@dataclass(frozen=True)
class VoteOutcome:
    vote: AnnotationVote
    created: bool
    participant: Participant


def allocations_open(*, participant: Participant):
    """The participant's items still to answer, in their order."""
    return (AnnotationAllocation.objects.filter(participant=participant, released_at__isnull=True,
                                                vote__isnull=True)
            .select_related("item__task").prefetch_related("item__images__grid_cell").order_by("position"))


def allocation_show(*, allocation: AnnotationAllocation) -> AnnotationAllocation:
    """Record when an item was first shown (the start of its answer time); a reload keeps the first time."""
    if allocation.shown_at is None:
        AnnotationAllocation.objects.filter(pk=allocation.pk, shown_at__isnull=True).update(shown_at=timezone.now())
        allocation.refresh_from_db(fields=["shown_at"])
    return allocation


def _parse_position(raw) -> int:
    if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit())):
        raise ValidationError({"position": "This item is not part of your study."})
    return int(raw)


def vote_submit(*, participant: Participant, position, choice) -> VoteOutcome:
    """Store the vote on the participant's item number ``position``; the last vote completes the study."""
    position = _parse_position(position)
    with transaction.atomic():
        participant = participant_lock(participant)
        if participant.status != Participant.Status.ACTIVE:
            raise ParticipantFinished({"participant": "This session has ended; votes can no longer be given."})
        if participant.current_page != ANNOTATE_PAGE:
            raise PageOutOfDate({"page": "This page is out of date; you were taken to where you left off."})
        allocation = (AnnotationAllocation.objects.select_related("item__task")
                      .filter(participant=participant, position=position, released_at__isnull=True).first())
        if allocation is None:
            raise ValidationError({"position": "This item is not part of your study."})
        existing = AnnotationVote.objects.filter(allocation=allocation).first()
        if existing is not None:
            if existing.choice == choice:
                return VoteOutcome(vote=existing, created=False, participant=participant)
            raise VoteConflict({"choice": "You have already answered this item; a vote cannot be changed."})
        if not isinstance(choice, str) or choice not in allocation.item.choice_keys():
            raise ValidationError({"choice": "Please choose one of the answers offered."})
        now = timezone.now()
        seconds = (now - allocation.shown_at).total_seconds() if allocation.shown_at else None
        vote = AnnotationVote(allocation=allocation, participant=participant, item=allocation.item, choice=choice,
                              placement=allocation.placement, seconds=seconds)
        vote.full_clean(exclude=["allocation", "participant", "item"])
        vote.save()
        participant.last_seen_at = now
        participant.save(update_fields=["last_seen_at"])
        if not allocations_open(participant=participant).exists():
            participant = _finish(participant, now=now)
        return VoteOutcome(vote=vote, created=True, participant=participant)


def attention_failed(participant: Participant) -> bool:
    votes = AnnotationVote.objects.filter(participant=participant, item__is_attention=True).select_related("item")
    return any(vote.choice != vote.item.ground_truth for vote in votes)


def annotation_finish(*, participant: Participant) -> Participant:
    """Complete a participant with nothing left to answer (e.g. after their last places were released)."""
    with transaction.atomic():
        participant = participant_lock(participant)
        if participant.status != Participant.Status.ACTIVE or allocations_open(participant=participant).exists():
            return participant
        return _finish(participant, now=timezone.now())


def _finish(participant: Participant, *, now) -> Participant:
    page_visit_close(participant=participant, page=ANNOTATE_PAGE, now=now)
    participant.attention_failed = attention_failed(participant)
    participant.status = (Participant.Status.FAILED_ATTENTION if participant.attention_failed
                          else Participant.Status.COMPLETED)
    participant.current_page = COMPLETE_PAGE
    participant.completed_at = now
    participant.last_seen_at = now
    participant.save(update_fields=["attention_failed", "status", "current_page", "completed_at", "last_seen_at"])
    return participant

"""The participant's arrival and consent: entry, balanced assignment to a condition, decline, return.

Every function runs in one transaction; a study that cannot take the participant raises StudyUnavailable.
"""
from __future__ import annotations

import random
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from studies import selectors
from studies.designs.registry import design_for
from studies.models import PageVisit, Participant, Study
from studies.structure import study_structure

from .durability import commit_flushed_by_consent
from .exceptions import ParticipantFinished, StudyUnavailable
from .navigation import page_visit_close
from .locks import participant_lock, study_lock
from .privacy import consent_version_id_agreed, forget_identity


@dataclass(frozen=True)
class PlatformIdentity:
    """What a recruitment platform told us about an arriving participant."""

    platform: str
    external_id: str = ""
    platform_study_id: str = ""
    platform_session_id: str = ""
    assignment_id: str = ""
    hit_id: str = ""
    turk_submit_to: str = ""


def _unavailable_reason(study: Study) -> str | None:
    if study.status != Study.Status.LIVE:
        return study.status
    if selectors.study_is_full(study=study):
        return "full"
    return None


def participant_enter(*, study: Study, identity: PlatformIdentity, is_simulated: bool = False) -> Participant:
    """Find the returning participant's record or create a new one (no condition yet: that comes at consent).

    Raises StudyUnavailable when a new participant cannot start (paused, closed, draft, full). A returning
    participant always gets their record back; the caller shows finished ones "already taken part".
    """
    if identity.external_id:
        existing = Participant.objects.filter(  # by pk: the default ordering would join the study table
            study=study, platform=identity.platform, external_id=identity.external_id
        ).order_by("pk").first()
        if existing is not None:
            return participant_resume(participant=existing, identity=identity)
    reason = _unavailable_reason(study)
    if reason:
        raise StudyUnavailable(reason)
    participant = Participant(
        study=study,
        platform=identity.platform,
        external_id=identity.external_id,
        platform_study_id=identity.platform_study_id,
        platform_session_id=identity.platform_session_id,
        assignment_id=identity.assignment_id,
        hit_id=identity.hit_id,
        turk_submit_to=identity.turk_submit_to,
        is_simulated=is_simulated,
        current_page="consent",
    )
    # The field values are checked here; the study was just read and the unique identity is the database's
    # to enforce (the IntegrityError below), so neither costs a query of its own.
    participant.full_clean(exclude=["token", "study"], validate_constraints=False)
    try:
        # One INSERT: on its own it needs no transaction (BEGIN and COMMIT would be two more round trips on
        # every arrival); inside a caller's transaction a savepoint keeps that transaction usable when the
        # INSERT fails.
        with transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext():
            participant.save()
    except IntegrityError:
        # The same person arrived twice at once (two tabs): both get the one record.
        return Participant.objects.get(study=study, platform=identity.platform, external_id=identity.external_id)
    return participant


#: Ids a platform gives each attempt anew: a worker who returns an MTurk HIT and accepts it again gets a new
#: assignmentId (and MTurk accepts only that one at externalSubmit); Prolific starts a new session.
_PER_ATTEMPT_FIELDS = ("assignment_id", "hit_id", "turk_submit_to", "platform_session_id")


@transaction.atomic
def participant_resume(*, participant: Participant, identity: PlatformIdentity | None = None) -> Participant:
    """A participant came back: keep their record; returned or timed-out ones become active again.

    When they arrive through the platform again, the ids of the new attempt replace the old ones, so the
    completion is submitted for the attempt the platform now holds open.
    """
    participant = participant_lock(participant)
    if participant.status in (Participant.Status.RETURNED, Participant.Status.TIMED_OUT):
        participant.status = Participant.Status.ACTIVE
    fields = ["status", "last_seen_at"]
    if identity is not None and participant.status == Participant.Status.ACTIVE:
        for name in _PER_ATTEMPT_FIELDS:
            value = getattr(identity, name)
            if value and value != getattr(participant, name):
                setattr(participant, name, value)
                fields.append(name)
    participant.last_seen_at = timezone.now()
    participant.save(update_fields=fields)
    return participant


def _choose_condition(*, study: Study, now: datetime, rng: random.Random | None,
                      is_simulated: bool = False) -> int:
    """The primary key of the least-filled condition (ties at random)."""
    counts = selectors.condition_fill_counts(study=study, now=now, is_simulated=is_simulated)
    if not counts:
        raise StudyUnavailable("draft")
    lowest = min(counts.values())
    if study.target_per_condition is not None and lowest >= study.target_per_condition:
        raise StudyUnavailable("full")
    candidates = sorted(pk for pk, taken in counts.items() if taken == lowest)
    return (rng or random.SystemRandom()).choice(candidates)


def _item_order_for(participant: Participant, *, shuffle: bool, rng: random.Random | None) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    structure = study_structure(study_id=participant.study_id)
    for page in selectors.QUESTION_PAGES:
        keys = [item.key for item in structure.items_for(condition_id=participant.condition_id, page=page)]
        if shuffle:
            (rng or random.SystemRandom()).shuffle(keys)
        order[page] = keys
    return order


def participant_assign(*, participant: Participant, rng: random.Random | None = None) -> Participant:
    """Give the participant the least-filled condition (ties at random) and fix their item order.

    The study row is locked (SELECT ... FOR NO KEY UPDATE on PostgreSQL; SQLite serialises writers) so two
    concurrent arrivals cannot both count the same free place. NO KEY: the lock still serialises every
    assignment, but not the foreign-key checks of rows that refer to the study: with FOR UPDATE each new
    participant's INSERT waited for the assignments in flight (bench/flow: entry p50 300 ms, 4x the other
    pages). The studies app never changes a primary key, so all its row locks are NO KEY. Idempotent: an
    assigned participant keeps their condition.
    """
    with transaction.atomic():
        commit_flushed_by_consent()  # the consent's commit right after flushes it
        study = study_lock(participant.study_id)
        participant = participant_lock(participant)
        if participant.condition_id is not None:
            return participant
        if participant.status != Participant.Status.ACTIVE:
            raise ParticipantFinished({"participant": "This session has ended."})
        if study.status != Study.Status.LIVE:
            raise StudyUnavailable(study.status)
        now = timezone.now()
        participant.condition_id = _choose_condition(study=study, now=now, rng=rng,
                                                  is_simulated=participant.is_simulated)
        participant.item_order = _item_order_for(participant, shuffle=study.randomize_items, rng=rng)
        participant.last_seen_at = now
        participant.save(update_fields=["condition", "item_order", "last_seen_at"])
        return participant


@transaction.atomic
def participant_decline(*, participant: Participant) -> Participant:
    """Consent refused: keep only the decline, as the consent page promises: no platform id, no page visit.

    (A person who comes back through the platform is therefore asked again, and may decline again.)
    """
    participant = participant_lock(participant)
    if participant.status != Participant.Status.ACTIVE or participant.condition_id is not None:
        raise ParticipantFinished({"consent": "Consent was already given or this session has ended."})
    participant.status = Participant.Status.DECLINED
    forget_identity(participant)
    PageVisit.objects.filter(participant=participant).delete()
    participant.current_page = "complete"
    participant.completed_at = timezone.now()
    participant.save()
    return participant


@transaction.atomic
def participant_mark_returned(*, participant: Participant) -> Participant:
    """The platform reports the participant returned the task: their place reopens."""
    participant = participant_lock(participant)
    if participant.status == Participant.Status.ACTIVE:
        participant.status = Participant.Status.RETURNED
        participant.save(update_fields=["status"])
    return participant


@transaction.atomic
def participants_time_out(*, study: Study | None = None, now: datetime | None = None) -> int:
    """Mark participants idle past the assignment cutoff as timed out; returns how many."""
    stale = Participant.objects.filter(
        status=Participant.Status.ACTIVE, last_seen_at__lt=selectors.active_cutoff(now)
    )
    if study is not None:
        stale = stale.filter(study=study)
    return stale.update(status=Participant.Status.TIMED_OUT)



def participant_consent(*, participant: Participant, agreed: bool, rng: random.Random | None = None) -> Participant:
    """Consent page: agreeing allocates the participant's share of the study (by its design) and moves on."""
    if participant.current_page != "consent" and not design_for(participant.study).has_allocation(
            participant=participant):
        raise ValidationError({"page": "This page is out of date."})
    if not agreed:
        return participant_decline(participant=participant)
    study = participant.study
    participant = design_for(study).allocate(participant=participant, rng=rng)
    participant.study = study  # the allocation re-read the row; the study it belongs to is the same
    with transaction.atomic():
        participant = participant_lock(participant)
        if participant.current_page == "consent":
            page_visit_close(participant=participant, page="consent")
            participant.current_page = "instructions"
            # Which wording they agreed to, and when: a later superseding version is not theirs.
            participant.consent_version_id = consent_version_id_agreed(study=participant.study)
            participant.consented_at = timezone.now()
            participant.save(update_fields=["current_page", "consent_version", "consented_at"])
    return participant


def completion_code(*, participant: Participant) -> str:
    """The code of the participant's way out of the study (recruitment.COMPLETION_PATHS); empty when the
    study sets none for it."""
    study = participant.study
    if participant.status == Participant.Status.DECLINED:
        return study.declined_code
    if participant.status == Participant.Status.SCREENED_OUT:
        return study.screened_out_code
    if participant.status == Participant.Status.WITHDRAWN:
        return ""
    if participant.attention_failed and study.attention_fail_code:
        return study.attention_fail_code
    return study.completion_code


@transaction.atomic
def participant_screen_out(*, participant: Participant) -> Participant:
    """A screening question showed the participant is not eligible: they leave with the screened-out code
    (Prolific pays a fixed screen-out fee). Their answers so far are kept for the screening record."""
    participant = participant_lock(participant)
    if participant.status != Participant.Status.ACTIVE:
        raise ParticipantFinished({"participant": "This session has ended."})
    participant.status = Participant.Status.SCREENED_OUT
    participant.current_page = "complete"
    participant.completed_at = timezone.now()
    participant.save(update_fields=["status", "current_page", "completed_at"])
    return participant


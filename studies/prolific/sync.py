"""Services that keep a study's participants in step with their Prolific submissions, and act on them.

Reading (``prolific_sync_study``): RETURNED and TIMED-OUT submissions of participants still active here, and
REJECTED submissions of anyone, mark the participant so that their place reopens at once; every
participant records the submission's status for the dashboard. Acting (approve, reject with a reason, bonuses)
goes through the client and leaves an audit entry (which participants, how many; never the answers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies.models import AuditEntry, Participant, Study

from .client import REJECTION_CATEGORIES, REJECTION_MESSAGE_MIN_LENGTH, ProlificClient, ProlificError

#: Prolific status -> the status a participant who is still active here takes (their place reopens).
_REOPENING = {"RETURNED": Participant.Status.RETURNED, "TIMED-OUT": Participant.Status.TIMED_OUT}
_KEEP = (Participant.Status.WITHDRAWN, Participant.Status.DECLINED)
MAX_BONUS = Decimal("100.00")


@dataclass
class SyncReport:
    study: str
    submissions: int = 0
    matched: int = 0
    reopened: int = 0
    rejected: int = 0
    unknown_participants: int = 0
    errors: list[str] = field(default_factory=list)


def prolific_client() -> ProlificClient:
    return ProlificClient(token=settings.PROLIFIC_API_TOKEN, base_url=settings.PROLIFIC_API_BASE_URL)


def prolific_study_ids(*, study: Study) -> list[str]:
    """The Prolific study ids this study was reached from (STUDY_ID of its real participants)."""
    return sorted(set(
        Participant.objects.filter(study=study, platform=Study.Platform.PROLIFIC, is_simulated=False)
        .exclude(platform_study_id="").values_list("platform_study_id", flat=True)
    ))


def prolific_sync_study(*, study: Study, client: ProlificClient | None = None) -> SyncReport:
    """Read the study's submissions from Prolific and update its participants. Raises ProlificError when
    Prolific cannot be read (nothing is changed then)."""
    report = SyncReport(study=study.slug)
    if study.platform != Study.Platform.PROLIFIC:
        return report
    client = client or prolific_client()
    submissions = [s for study_id in prolific_study_ids(study=study) for s in client.study_submissions(study_id)]
    report.submissions = len(submissions)
    now = timezone.now()
    with transaction.atomic():
        participants = {
            p.external_id: p for p in Participant.objects.select_for_update(no_key=True).filter(
                study=study, platform=Study.Platform.PROLIFIC, is_simulated=False,
                external_id__in=[s.participant_id for s in submissions])
        }
        for submission in submissions:
            participant = participants.get(submission.participant_id)
            if participant is None:
                report.unknown_participants += 1
                continue
            report.matched += 1
            fields = ["platform_status", "platform_status_at"]
            participant.platform_status, participant.platform_status_at = submission.status, now
            if participant.status not in _KEEP:
                if submission.status in _REOPENING and participant.status == Participant.Status.ACTIVE:
                    participant.status = _REOPENING[submission.status]
                    fields.append("status")
                    report.reopened += 1
                elif submission.status == "REJECTED" and participant.status != Participant.Status.REJECTED:
                    participant.status = Participant.Status.REJECTED
                    fields.append("status")
                    report.rejected += 1
            participant.save(update_fields=fields)
    return report


def _submissions_of(study: Study, participant_ids: Iterable[int]) -> list[Participant]:
    ids = list(participant_ids)
    participants = list(Participant.objects.filter(study=study, pk__in=ids, is_simulated=False))
    if len(participants) != len(set(ids)):
        raise ValidationError({"participants": "Some participants are not real participants of this study."})
    missing = [p.pk for p in participants if not p.platform_session_id]
    if missing:
        raise ValidationError({"participants": f"No Prolific submission id (SESSION_ID) for participants {missing}."})
    return participants


def _audit(study: Study, actor, what: str, participants: list[Participant], **extra) -> None:
    AuditEntry.objects.create(study=study, actor=actor, action=AuditEntry.Action.PLATFORM_ACTION,
                              detail={"platform": "prolific", "action": what,
                                      "participants": [p.pk for p in participants], **extra})


def prolific_approve(*, study: Study, participant_ids: Iterable[int], actor=None,
                     client: ProlificClient | None = None) -> int:
    participants = _submissions_of(study, participant_ids)
    (client or prolific_client()).approve([p.platform_session_id for p in participants])
    Participant.objects.filter(pk__in=[p.pk for p in participants]).update(platform_status="APPROVED",
                                                                            platform_status_at=timezone.now())
    _audit(study, actor, "approve", participants)
    return len(participants)


def prolific_reject(*, study: Study, participant_ids: Iterable[int], message: str, rejection_category: str,
                    actor=None, client: ProlificClient | None = None) -> int:
    """Reject submissions with the reason Prolific shows the participant; their places reopen."""
    if rejection_category not in REJECTION_CATEGORIES:
        raise ValidationError({"rejection_category": f"Choose one of {', '.join(REJECTION_CATEGORIES)}."})
    if not isinstance(message, str) or len(message.strip()) < REJECTION_MESSAGE_MIN_LENGTH:
        raise ValidationError({"message": f"Prolific needs a reason of at least {REJECTION_MESSAGE_MIN_LENGTH} "
                                          "characters, shown to the participant."})
    participants = _submissions_of(study, participant_ids)
    client = client or prolific_client()
    done = []
    try:
        for participant in participants:
            client.reject(participant.platform_session_id, message=message.strip(),
                          rejection_category=rejection_category)
            done.append(participant)
    finally:
        # What Prolific accepted is recorded even when a later rejection fails.
        Participant.objects.filter(pk__in=[p.pk for p in done]).exclude(status__in=_KEEP).update(
            status=Participant.Status.REJECTED, platform_status="REJECTED", platform_status_at=timezone.now())
        if done:
            _audit(study, actor, "reject", done, rejection_category=rejection_category)
    return len(done)


def prolific_pay_bonuses(*, study: Study, bonuses: dict[int, str | Decimal], actor=None,
                         client: ProlificClient | None = None) -> str:
    """Pay bonuses (participant pk -> amount in the study's currency) in one Prolific bulk payment."""
    amounts: dict[int, Decimal] = {}
    for pk, raw in bonuses.items():
        try:
            amount = Decimal(str(raw))
        except InvalidOperation:
            raise ValidationError({"bonuses": f"Bonus {str(raw)[:20]!r} is not a number."}) from None
        if not (Decimal("0.01") <= amount <= MAX_BONUS) or amount != amount.quantize(Decimal("0.01")):
            raise ValidationError({"bonuses": f"Each bonus must lie between 0.01 and {MAX_BONUS} with at most "
                                              "two decimals (an amount of 30 pays 30.00)."})
        amounts[pk] = amount
    participants = _submissions_of(study, amounts)
    study_ids = {p.platform_study_id for p in participants}
    if len(study_ids) != 1 or "" in study_ids:
        raise ValidationError({"bonuses": "Bonuses are paid per Prolific study: choose participants of one STUDY_ID."})
    payment_id = (client or prolific_client()).pay_bonuses(
        study_ids.pop(), [(p.external_id, amounts[p.pk]) for p in participants])
    _audit(study, actor, "bonus", participants, payment=payment_id,
           total=str(sum(amounts.values(), Decimal("0"))))
    return payment_id


__all__ = ["ProlificError", "SyncReport", "prolific_approve", "prolific_pay_bonuses", "prolific_reject",
           "prolific_study_ids", "prolific_sync_study"]

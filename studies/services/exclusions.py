"""The researcher's curation of participants: excluding one from the analyses with a reason (and taking it
back), and clearing the simulated test runs of a study that has not been launched.

An exclusion keeps every answer (nothing a participant submitted is lost); the analyses and exports read
the reason, who gave it and when. An excluded participant's place reopens, so recruitment replaces them.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies.models import Participant, Study

from .locks import participant_lock, study_lock

#: Longest exclusion reason kept (characters).
REASON_MAX_LENGTH = 1000


@transaction.atomic
def participant_exclude(*, participant: Participant, reason: str, by=None) -> Participant:
    """Exclude the participant from analyses with a reason (required); re-excluding replaces the reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason for the exclusion: it is reported with the analysis and "
                                         "the exports."})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX_LENGTH} characters."})
    participant = participant_lock(participant)
    participant.excluded_reason = reason
    participant.excluded_at = timezone.now()
    participant.excluded_by = by if by is not None and by.is_authenticated else None
    participant.save(update_fields=["excluded_reason", "excluded_at", "excluded_by"])
    return participant


@transaction.atomic
def participant_include(*, participant: Participant) -> Participant:
    """Take an exclusion back: the participant counts again."""
    participant = participant_lock(participant)
    participant.excluded_reason = ""
    participant.excluded_at = None
    participant.excluded_by = None
    participant.save(update_fields=["excluded_reason", "excluded_at", "excluded_by"])
    return participant


@transaction.atomic
def study_delete_test_participants(*, study: Study) -> int:
    """Delete the simulated participants of a study that was never launched (their runs were tests of the
    set-up); returns how many went. A launched study keeps them: they are part of its record."""
    study = study_lock(study.pk)
    if study.is_launched:
        raise ValidationError({"study": "Test participants can only be deleted before launch; a launched study "
                                        "keeps its simulated participants, flagged and apart from the real ones."})
    test_participants = Participant.objects.filter(study=study, is_simulated=True)
    count = test_participants.count()
    test_participants.delete()
    return count

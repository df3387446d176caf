"""Data protection: versioned consent, withdrawal, deletion on request, and the audit log that records them.

The audit log says what was done and when, never the data: a deletion records how many rows of which kind
went, not the answers nor the platform id (keeping the id would keep the person identifiable).
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies.models import AuditEntry, ConsentVersion, PageVisit, Participant, Response, ResponseRevision, Study
from studies.structure import study_structure

from .locks import participant_lock, study_lock

#: Platform ids and per-attempt data a participant leaves behind; cleared on decline and withdrawal.
IDENTIFYING_FIELDS = ("external_id", "platform_study_id", "platform_session_id", "assignment_id", "hit_id",
                      "turk_submit_to")


def consent_current_version(*, study: Study) -> ConsentVersion:
    """The consent version participants agree to now; the first is made from the study's consent text."""
    current = study.consent_versions.order_by("-number").first()
    if current is None:
        current, _ = ConsentVersion.objects.get_or_create(study=study, number=1,
                                                          defaults={"text": study.consent_text})
    return current


def consent_version_id_agreed(*, study: Study) -> int:
    """The consent version a participant agrees to: the newest as this process read it, with the study row
    whose consent text its consent page shows (studies/structure.py; a new version reaches every process as
    that text does). Made from the consent text when the study has none yet."""
    version_id = study_structure(study_id=study.pk).consent_version_id
    return version_id if version_id is not None else consent_current_version(study=study).pk


@transaction.atomic
def consent_supersede(*, study: Study, text: str, actor=None) -> ConsentVersion:
    """Replace the consent text by a new version: participants from now on agree to it; everyone who agreed
    before keeps theirs. The only way to change a launched study's consent."""
    study = study_lock(study.pk)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError({"consent_text": "The new consent text is empty."})
    current = consent_current_version(study=study)
    if current.text == text:
        raise ValidationError({"consent_text": "The new consent text is the same as the current version."})
    version = ConsentVersion.objects.create(study=study, number=current.number + 1, text=text)
    study.consent_text = text
    study.save(update_fields=["consent_text"])
    AuditEntry.objects.create(study=study, actor=actor, action=AuditEntry.Action.CONSENT_SUPERSEDED,
                              detail={"from_version": current.number, "to_version": version.number})
    return version


def _erase(participant: Participant) -> dict[str, int]:
    """Delete what a participant gave and left (answers, their history, page timings); return the counts."""
    counts = {
        "responses": Response.objects.filter(participant=participant).count(),
        "revisions": ResponseRevision.objects.filter(response__participant=participant).count(),
        "page_visits": PageVisit.objects.filter(participant=participant).count(),
    }
    ResponseRevision.objects.filter(response__participant=participant).delete()
    Response.objects.filter(participant=participant).delete()
    PageVisit.objects.filter(participant=participant).delete()
    return counts


def forget_identity(participant: Participant) -> None:
    for name in IDENTIFYING_FIELDS:
        setattr(participant, name, "")
    participant.item_order = {}
    participant.platform_status = ""


@transaction.atomic
def participant_withdraw(*, participant: Participant) -> Participant:
    """The participant withdraws: their answers, timings and platform ids are deleted; only the fact that
    somebody withdrew (and when) remains. Withdrawing twice changes nothing."""
    participant = participant_lock(participant)
    if participant.status == Participant.Status.WITHDRAWN:
        return participant
    counts = _erase(participant)
    previous_status = participant.status
    forget_identity(participant)
    participant.status = Participant.Status.WITHDRAWN
    participant.withdrawn_at = timezone.now()
    participant.current_page = "complete"
    participant.save()
    AuditEntry.objects.create(study=participant.study, action=AuditEntry.Action.PARTICIPANT_WITHDREW,
                              detail={"participant": participant.pk, "previous_status": previous_status, **counts})
    return participant


@transaction.atomic
@transaction.atomic
def participant_delete_by_platform_id(*, study: Study, platform_id: str, actor=None) -> AuditEntry:
    """A data-protection (GDPR) erasure request: delete everything of the participant with this platform id
    (PROLIFIC_PID or workerId) in this study. The audit entry records the counts and the time, not the id.

    Raises ValidationError for an empty or unknown id; nothing changes then.
    """
    if not isinstance(platform_id, str) or not platform_id.strip():
        raise ValidationError({"platform_id": "Give the participant's platform id (PROLIFIC_PID or workerId)."})
    participant = (Participant.objects.select_for_update(no_key=True)
                   .filter(study=study, external_id=platform_id.strip()).first())
    if participant is None:
        raise ValidationError({"platform_id": "No participant of this study has that platform id (it may have "
                                              "been deleted already, or the person withdrew or declined)."})
    detail: dict[str, Any] = {"participant": participant.pk, "status": participant.status,
                              "platform": participant.platform, "requested_at": timezone.now().isoformat(),
                              **_erase(participant)}
    participant.delete()
    return AuditEntry.objects.create(study=study, actor=actor, action=AuditEntry.Action.PARTICIPANT_DELETED,
                                     detail=detail)


def wording_fixes_log(*, instance, actor=None) -> None:
    """Record each typo fix of a launched study's wording (old and new text: the study's own words, not
    participant data). Call before saving ``instance`` (an Item or Condition)."""
    if instance.pk is None or not instance.study.is_launched:
        return
    stored = type(instance).objects.filter(pk=instance.pk).values(*instance.WORDING_FIELDS).first() or {}
    for name in instance.WORDING_FIELDS:
        if name in stored and stored[name] != getattr(instance, name):
            AuditEntry.objects.create(
                study=instance.study, actor=actor, action=AuditEntry.Action.WORDING_FIXED,
                detail={"object": type(instance).__name__.lower(), "id": instance.pk, "field": name,
                        "before": stored[name], "after": getattr(instance, name)},
            )

"""Recruitment adapters: what each platform passes in the study URL and how participants are sent back.

Prolific appends PROLIFIC_PID, STUDY_ID and SESSION_ID and expects a redirect to
``PROLIFIC_COMPLETION_BASE_URL?cc=CODE``. MTurk (ExternalQuestion) appends assignmentId, hitId, workerId
and turkSubmitTo, shows the page in preview with assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE, and expects a
form POSTed to ``{turkSubmitTo}/mturk/externalSubmit``. A plain link carries nothing and shows the code.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict

from .models import Study
from .services import PlatformIdentity

MTURK_PREVIEW_ASSIGNMENT_ID = "ASSIGNMENT_ID_NOT_AVAILABLE"
_MAX_ID_LENGTH = 128


@dataclass(frozen=True)
class Arrival:
    identity: PlatformIdentity
    is_preview: bool = False


def _param(query: QueryDict, name: str, *, required: bool) -> str:
    value = query.get(name, "").strip()
    if "\x00" in value:
        raise ValidationError({name: f"{name} contains a NUL character; please start again from the platform."})
    if required and not value:
        raise ValidationError({name: f"The link is missing {name}; please start again from the platform."})
    if len(value) > _MAX_ID_LENGTH:
        raise ValidationError({name: f"{name} is too long."})
    return value


def mturk_submit_url(turk_submit_to: str) -> str:
    """The externalSubmit endpoint, accepted only on the configured MTurk hosts over HTTPS."""
    parts = urlsplit(turk_submit_to)
    if parts.scheme != "https" or parts.hostname not in settings.MTURK_SUBMIT_HOSTS:
        raise ValidationError(
            {"turkSubmitTo": "turkSubmitTo must be an https URL on " + ", ".join(settings.MTURK_SUBMIT_HOSTS) + "."}
        )
    return f"https://{parts.netloc}/mturk/externalSubmit"


def parse_arrival(study: Study, query: QueryDict) -> Arrival:
    """Read the platform parameters of an arriving participant; raises ValidationError naming a bad one."""
    if study.platform == Study.Platform.PROLIFIC:
        return Arrival(
            PlatformIdentity(
                platform=study.platform,
                external_id=_param(query, "PROLIFIC_PID", required=True),
                platform_study_id=_param(query, "STUDY_ID", required=False),
                platform_session_id=_param(query, "SESSION_ID", required=False),
            )
        )
    if study.platform == Study.Platform.MTURK:
        assignment_id = _param(query, "assignmentId", required=True)
        if assignment_id == MTURK_PREVIEW_ASSIGNMENT_ID:
            return Arrival(PlatformIdentity(platform=study.platform), is_preview=True)
        turk_submit_to = _param(query, "turkSubmitTo", required=True)
        mturk_submit_url(turk_submit_to)
        return Arrival(
            PlatformIdentity(
                platform=study.platform,
                external_id=_param(query, "workerId", required=True),
                assignment_id=assignment_id,
                hit_id=_param(query, "hitId", required=False),
                turk_submit_to=turk_submit_to,
            )
        )
    return Arrival(PlatformIdentity(platform=Study.Platform.LINK))


def prolific_completion_url(code: str) -> str:
    return f"{settings.PROLIFIC_COMPLETION_BASE_URL}?{urlencode({'cc': code})}"


def study_entry_url(study: Study) -> str:
    """The URL to paste into the recruiting platform (with Prolific's placeholders)."""
    base = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/s/{study.slug}/"
    if study.platform == Study.Platform.PROLIFIC:
        return base + "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    return base

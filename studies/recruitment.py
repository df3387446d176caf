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
from django.http import HttpRequest, QueryDict

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


@dataclass(frozen=True)
class CompletionPath:
    """One way a participant leaves the study, the code they are sent back with, and what Prolific should
    do with a submission carrying it (the code type and action to choose when adding the code on Prolific:
    docs.prolific.com, "Completion codes")."""

    status: str
    label: str
    code_field: str
    prolific_code_type: str
    prolific_action: str


COMPLETION_PATHS = (
    CompletionPath("completed", "Completed", "completion_code", "COMPLETED", "AUTOMATICALLY_APPROVE"),
    CompletionPath("failed_attention", "Failed attention check", "attention_fail_code", "FAILED_ATTENTION_CHECK",
                   "MANUALLY_REVIEW"),
    CompletionPath("declined", "Declined consent", "declined_code", "NO_CONSENT", "REQUEST_RETURN"),
    CompletionPath("screened_out", "Screened out", "screened_out_code", "SCREENED_OUT", "FIXED_SCREENOUT_PAYMENT"),
)


def completion_codes(study: Study) -> list[dict[str, str]]:
    """Every completion path with the study's code for it (empty: none set), its Prolific completion URL and
    the action Prolific should take."""
    rows = []
    for path in COMPLETION_PATHS:
        code = getattr(study, path.code_field)
        rows.append({"status": path.status, "label": path.label, "code": code,
                     "url": prolific_completion_url(code) if code else "",
                     "prolific_code_type": path.prolific_code_type, "prolific_action": path.prolific_action})
    return rows


#: Where `manage.py runserver` listens by default: the base of links printed outside any request (command
#: output) while PUBLIC_BASE_URL is unset.
RUNSERVER_BASE_URL = "http://127.0.0.1:8000"


def public_base_url(request: HttpRequest | None = None) -> str:
    """Scheme and host participants reach this server at: PUBLIC_BASE_URL when set, else the host the
    request came to (so a server on another port or machine links to itself), else, for printed links,
    runserver's default address."""
    configured = settings.PUBLIC_BASE_URL.rstrip("/")
    if configured:
        return configured
    if request is None:
        return RUNSERVER_BASE_URL
    return request.build_absolute_uri("/").rstrip("/")


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or {"http": 80, "https": 443}.get(parts.scheme))


def public_base_url_mismatch(request: HttpRequest) -> str:
    """The configured PUBLIC_BASE_URL when it names another host or port than the one this request reached
    (links pasted into a platform would then lead elsewhere); empty when it is unset or agrees."""
    configured = settings.PUBLIC_BASE_URL.rstrip("/")
    if configured and _origin(configured) != _origin(request.build_absolute_uri("/")):
        return configured
    return ""


def study_entry_url(study: Study, *, request: HttpRequest | None = None) -> str:
    """The URL to paste into the recruiting platform (with Prolific's placeholders)."""
    base = f"{public_base_url(request)}/s/{study.slug}/"
    if study.platform == Study.Platform.PROLIFIC:
        return base + "?PROLIFIC_PID={{%PROLIFIC_PID%}}&STUDY_ID={{%STUDY_ID%}}&SESSION_ID={{%SESSION_ID%}}"
    return base

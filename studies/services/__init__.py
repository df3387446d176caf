"""Business rules of the studies app, one module per concern; import them from here.

- studies.py: a study's lifecycle, its conditions and items (the researcher's side);
- participants.py: entry, balanced assignment, consent, decline, return and time-out;
- responses.py: validating and storing answers with their revisions, recognising retried submissions;
- navigation.py: page timing and moving through the pages up to completion;
- exclusions.py: the researcher excluding participants with a reason, clearing test runs before launch;
- privacy.py: consent versions, withdrawal, deletion on request and the audit log;
- exceptions.py: StudyUnavailable, ParticipantFinished, PageOutOfDate, StimulusTooEarly.

Every function is keyword-only and runs in one transaction; invalid input raises
django.core.exceptions.ValidationError (with field names) and changes nothing.
"""
from .exceptions import PageOutOfDate, ParticipantFinished, StimulusTooEarly, StudyUnavailable
from .exclusions import participant_exclude, participant_include, study_delete_test_participants
from .navigation import page_visit_close, page_visit_open, participant_navigate, participant_revise_earlier_page
from .participants import (
    PlatformIdentity,
    completion_code,
    participant_assign,
    participant_consent,
    participant_decline,
    participant_enter,
    participant_mark_returned,
    participant_resume,
    participant_screen_out,
    participants_time_out,
)
from .privacy import (
    consent_current_version,
    consent_supersede,
    participant_delete_by_platform_id,
    participant_withdraw,
    wording_fixes_log,
)
from .responses import answers_validate, responses_autosave, responses_save, submission_is_retry
from .studies import (
    condition_create,
    condition_delete,
    condition_delete_problem,
    condition_update,
    item_create,
    item_delete,
    item_delete_problem,
    item_update,
    study_close,
    study_create,
    study_delete,
    study_duplicate,
    study_duplicate_slug,
    study_launch,
    study_launch_problems,
    study_pause,
    study_update,
)

__all__ = [
    "PageOutOfDate",
    "ParticipantFinished",
    "PlatformIdentity",
    "StimulusTooEarly",
    "StudyUnavailable",
    "answers_validate",
    "completion_code",
    "consent_current_version",
    "consent_supersede",
    "condition_create",
    "condition_delete",
    "condition_delete_problem",
    "condition_update",
    "item_create",
    "item_delete",
    "item_delete_problem",
    "item_update",
    "page_visit_close",
    "page_visit_open",
    "participant_assign",
    "participant_consent",
    "participant_decline",
    "participant_delete_by_platform_id",
    "participant_enter",
    "participant_exclude",
    "participant_include",
    "participant_mark_returned",
    "participant_navigate",
    "participant_resume",
    "participant_revise_earlier_page",
    "participant_screen_out",
    "participant_withdraw",
    "participants_time_out",
    "responses_autosave",
    "responses_save",
    "study_close",
    "study_create",
    "study_delete",
    "study_delete_test_participants",
    "study_duplicate",
    "study_duplicate_slug",
    "study_launch",
    "study_launch_problems",
    "study_pause",
    "study_update",
    "submission_is_retry",
    "wording_fixes_log",
]

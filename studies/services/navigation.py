"""A participant's way through the pages: page timing, moving forwards or back, completing the study."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from studies import selectors
from studies.designs.registry import design_for
from studies.models import Item, PageVisit, Participant, Response
from studies.structure import study_structure

from .exceptions import PageOutOfDate, StimulusTooEarly
from .locks import participant_lock
from .responses import ensure_can_answer, responses_by_item, responses_store


def _visit_sql() -> tuple[str, dict[str, str]]:
    """PageVisit's table and column names, quoted, for the two statements below that are written by hand."""
    quote = connection.ops.quote_name
    return quote(PageVisit._meta.db_table), {f.name: quote(f.column) for f in PageVisit._meta.concrete_fields}


def page_visit_open(*, participant: Participant, page: str) -> None:
    """Start timing a page; a reload continues the open visit instead of starting a second one.

    Every participant page view runs this, so it is one statement in autocommit: an INSERT that the partial
    unique constraint "one_open_visit_per_page" turns into a no-op while the page is already open (INSERT
    ... ON CONFLICT DO NOTHING, the same syntax on PostgreSQL and SQLite >= 3.24, the two databases the
    settings accept). The ORM's bulk_create(ignore_conflicts=True) would wrap it in a transaction of its own
    (two more statements).
    """
    table, column = _visit_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({column['participant']}, {column['page']}, {column['entered_at']}) "
                       f"VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                       [participant.pk, page, connection.ops.adapt_datetimefield_value(timezone.now())])


#: Seconds from a visit's entered_at to a given moment, in SQL (the ORM has no portable datetime difference
#: in seconds), per database the settings accept.
_SECONDS_SINCE_ENTERED = {
    "postgresql": "GREATEST(EXTRACT(EPOCH FROM (%s - {entered})), 0)",
    "sqlite": "MAX((julianday(%s) - julianday({entered})) * 86400.0, 0)",
}


def page_visit_close(*, participant: Participant, page: str, now: datetime | None = None) -> None:
    """End the page's open visit at ``now``, with the seconds spent on it: one UPDATE, since every page's
    submission runs this."""
    table, column = _visit_sql()
    moment = connection.ops.adapt_datetimefield_value(now or timezone.now())
    seconds = _SECONDS_SINCE_ENTERED[connection.vendor].format(entered=column["entered_at"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column['left_at']} = %s, {column['seconds']} = {seconds} "
            f"WHERE {column['participant']} = %s AND {column['page']} = %s AND {column['left_at']} IS NULL",
            [moment, moment, participant.pk, page])


def _attention_failed(participant: Participant, responses: dict[int, Response] | None) -> bool:
    """Whether any attention check's answer differs from the expected one; ``responses`` (responses_by_item,
    current) saves reading them."""
    checks = [item for item in study_structure(study_id=participant.study_id).items_for(
        condition_id=participant.condition_id) if item.kind == Item.Kind.ATTENTION_CHECK]
    if not checks:
        return False
    if responses is None:
        responses = responses_by_item(participant)
    return any(item.pk not in responses or responses[item.pk].value_int != item.expected_answer for item in checks)


def participant_navigate(
    *, participant: Participant, page: str, answers: dict[str, Any], direction: str
) -> Participant:
    """Leave `page` forwards (answers must be complete) or backwards (answers kept as far as they are valid).

    Raises ValidationError (nothing stored) for bad answers, a stale page or a finished session.
    Leaving the last question page forwards completes the study.
    """
    if direction not in ("next", "back"):
        raise ValidationError({"action": "Unknown action."})
    too_early: StimulusTooEarly | None = None
    with transaction.atomic():
        participant = participant_lock(participant)
        ensure_can_answer(participant)
        if page != participant.current_page:
            raise ValidationError({"page": "This page is out of date; you were taken to where you left off."})
        pages = design_for(participant.study).pages(participant=participant)
        index = pages.index(page)
        too_early = _stimulus_too_early(participant, page=page, direction=direction)
        responses = None
        if page in selectors.QUESTION_PAGES:
            # Too early: keep what was given (complete or not) and let the participant look on.
            # Moving on saves the participant (and their last_seen_at) anyway: one UPDATE instead of two.
            responses = responses_by_item(participant)
            responses_store(participant=participant, page=page, answers=answers, existing=responses,
                            require_complete=direction == "next" and too_early is None, touch=too_early is not None)
        if too_early is None:
            participant = _move(participant, pages=pages, index=index, page=page, direction=direction,
                                responses=responses)
    if too_early is not None:
        raise too_early
    return participant


def _stimulus_too_early(participant: Participant, *, page: str, direction: str) -> StimulusTooEarly | None:
    minimum = participant.study.min_stimulus_seconds
    if direction != "next" or page != Item.Page.STIMULUS or not minimum:
        return None
    seen = selectors.participant_seconds_on_page(participant=participant, page=page)
    if seen >= minimum:
        return None
    return StimulusTooEarly(minimum=minimum, seconds_left=max(math.ceil(minimum - seen), 1))


def _move(participant: Participant, *, pages: list[str], index: int, page: str, direction: str,
          responses: dict[int, Response] | None = None) -> Participant:
    """Leave `page` (its visit ends) for the next or previous page; the last question page completes
    (``responses``: the participant's current answers when the caller has them)."""
    now = timezone.now()
    page_visit_close(participant=participant, page=page, now=now)
    target = pages[max(index - 1, 1)] if direction == "back" else pages[index + 1]
    participant.current_page = target
    participant.last_seen_at = now
    fields = ["current_page", "last_seen_at"]
    if target == "complete":
        participant.attention_failed = _attention_failed(participant, responses)
        participant.status = (
            Participant.Status.FAILED_ATTENTION if participant.attention_failed else Participant.Status.COMPLETED
        )
        participant.completed_at = now
        fields += ["attention_failed", "status", "completed_at"]
    participant.save(update_fields=fields)
    return participant


def participant_revise_earlier_page(*, participant: Participant, page: str, answers: dict[str, Any]) -> Participant:
    """Save a submission of a question page the participant has already left (the browser's Back button, an
    old tab): the answers become new revisions and the participant stays on their current page.

    Raises PageOutOfDate for a page they have not reached yet, ValidationError for bad answers (nothing
    stored) and ParticipantFinished once the session has ended.
    """
    with transaction.atomic():
        participant = participant_lock(participant)
        ensure_can_answer(participant)
        pages = design_for(participant.study).pages(participant=participant)
        if not (page in selectors.QUESTION_PAGES and page in pages and participant.current_page in pages
                and pages.index(page) < pages.index(participant.current_page)):
            raise PageOutOfDate({"page": "This page is out of date; you were taken to where you left off."})
        responses_store(participant=participant, page=page, answers=answers)
        return participant

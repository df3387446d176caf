"""A participant's way through the instructions and their trials: ratings saved per trial, Back, completion.

One trial is answered in two steps, as in the paper (section 5 and the supplement's Figure 8): the rating of
Explanation 1 is saved first, and only then is Explanation 2 shown and its rating accepted. Every rating is
validated on the server and stored with an append-only revision; a rating for another trial than the
participant's current one, or for Explanation 2 before Explanation 1, is refused and changes nothing. The
participant row is locked for each submission, so two submissions at once are serialised.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies import selectors as study_selectors
from studies.models import Participant
from studies.services import ParticipantFinished, page_visit_close
from studies.services.locks import participant_lock

from ..models import Trial, TrialAnswerRevision, TrialRating, TrialSession, TrialSetup

INSTRUCTIONS_PAGE = "instructions"
TRIALS_PAGE = "trials"


class TrialOutOfOrder(ValidationError):
    """A submission for another trial than the current one (a stale tab, a replayed request)."""


def _locked_session(participant: Participant, page: str) -> tuple[Participant, TrialSession]:
    participant = participant_lock(participant)
    if participant.status != Participant.Status.ACTIVE:
        raise ParticipantFinished({"participant": "This session has ended; answers can no longer be changed."})
    session = TrialSession.objects.select_for_update(no_key=True).filter(participant=participant).first()
    if session is None:
        raise ParticipantFinished({"participant": "Please give your consent first."})
    if participant.current_page != page:
        raise TrialOutOfOrder({"page": "This page is out of date; you were taken to where you left off."})
    return participant, session


def _parse_rating(raw: Any, points: int, field: str) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    if isinstance(raw, bool) or not text.isdigit() or not 1 <= int(text) <= points:
        raise ValidationError({field: f"Choose one of the points 1 to {points}."})
    return int(text)


def instructions_leave(*, participant: Participant) -> Participant:
    """Leave the instructions forwards once the minimum reading time has passed."""
    with transaction.atomic():
        participant, session = _locked_session(participant, INSTRUCTIONS_PAGE)
        minimum = TrialSetup.objects.get(study_id=participant.study_id).min_instructions_seconds
        seen = study_selectors.participant_seconds_on_page(participant=participant, page=INSTRUCTIONS_PAGE)
        if seen < minimum:
            raise ValidationError({"page": f"Please read the instructions for at least {minimum} seconds before "
                                           f"you go on ({int(seen)} s so far)."})
        now = timezone.now()
        page_visit_close(participant=participant, page=INSTRUCTIONS_PAGE, now=now)
        participant.current_page = TRIALS_PAGE
        participant.last_seen_at = now
        participant.save(update_fields=["current_page", "last_seen_at"])
        return participant


def _record(trial: Trial, question: str, value: int, now) -> bool:
    """Store one rating on the trial and its revision; False when it equals the stored one (nothing to do)."""
    field, stamp = f"{question}_rating", f"{question}_answered_at"
    if getattr(trial, field) == value:
        return False
    setattr(trial, field, value)
    setattr(trial, stamp, now)
    TrialAnswerRevision.objects.create(trial=trial, question=question, value=value)
    return True


def trial_answer(*, participant: Participant, position: Any, answers: dict[str, Any],
                 direction: str = "next") -> tuple[Participant, Trial]:
    """Save the ratings of the participant's current trial and move on when it is complete.

    ``answers`` holds "first" and/or "second" (scale points as strings or ints). ``direction`` "next"
    (default) saves; after the second rating the participant moves to the next trial, after the last trial
    the study completes. "back" saves nothing and returns to the previous trial (or the instructions).
    Raises TrialOutOfOrder when ``position`` is not the current trial, ValidationError for bad ratings or a
    second rating before the first; nothing is stored then.
    """
    if direction not in ("next", "back"):
        raise ValidationError({"action": "Unknown action."})
    with transaction.atomic():
        participant, session = _locked_session(participant, TRIALS_PAGE)
        if str(position) != str(session.current_position):
            raise TrialOutOfOrder({"trial": f"This is not your current trial (you are at trial "
                                            f"{session.current_position}); you were taken back to it."})
        trial = Trial.objects.select_for_update(no_key=True).select_related("first_method", "second_method", "pool_image") \
            .get(participant=participant, position=session.current_position)
        now = timezone.now()
        if direction == "back":
            return _go_back(participant, session, now), trial
        setup = TrialSetup.objects.get(study_id=participant.study_id)
        unknown = sorted(set(answers) - {TrialRating.FIRST, TrialRating.SECOND})
        if unknown:
            raise ValidationError({key[:40]: "Unknown answer for this trial." for key in unknown})
        first = _parse_rating(answers.get(TrialRating.FIRST), setup.first_points, TrialRating.FIRST)
        second = _parse_rating(answers.get(TrialRating.SECOND), setup.second_points, TrialRating.SECOND)
        if first is None and trial.first_rating is None:
            raise ValidationError({TrialRating.FIRST: "Please rate Explanation 1."})
        if second is not None and trial.first_rating is None:
            raise ValidationError({TrialRating.SECOND: "Please rate Explanation 1 first; Explanation 2 is shown "
                                                       "after that."})
        changed = _record(trial, TrialRating.FIRST, first, now) if first is not None else False
        if second is not None:
            changed = _record(trial, TrialRating.SECOND, second, now) or changed
        if changed:
            trial.save(update_fields=["first_rating", "second_rating", "first_answered_at", "second_answered_at"])
        if second is not None:
            _advance(participant, session, now)
        participant.last_seen_at = now
        participant.save(update_fields=["current_page", "status", "completed_at", "last_seen_at"])
        return participant, trial


def _advance(participant: Participant, session: TrialSession, now) -> None:
    total = Trial.objects.filter(participant=participant).count()
    if session.current_position < total:
        session.current_position += 1
        session.save(update_fields=["current_position"])
        return
    page_visit_close(participant=participant, page=TRIALS_PAGE, now=now)
    participant.current_page = "complete"
    participant.status = Participant.Status.COMPLETED
    participant.completed_at = now


def _go_back(participant: Participant, session: TrialSession, now) -> Participant:
    if session.current_position > 1:
        session.current_position -= 1
        session.save(update_fields=["current_position"])
    else:
        page_visit_close(participant=participant, page=TRIALS_PAGE, now=now)
        participant.current_page = INSTRUCTIONS_PAGE
    participant.last_seen_at = now
    participant.save(update_fields=["current_page", "last_seen_at"])
    return participant


def submission_is_retry(*, participant: Participant, position: Any, answers: dict[str, Any]) -> bool:
    """Whether a refused submission carries exactly the ratings already stored for that trial: a network retry
    of a submission that went through but whose response was lost. Such a retry is answered with a redirect."""
    trial = Trial.objects.filter(participant=participant, position=str(position)).first() \
        if str(position).isdigit() else None
    if trial is None or not answers:
        return False
    stored = {TrialRating.FIRST: trial.first_rating, TrialRating.SECOND: trial.second_rating}
    return all(key in stored and str(stored[key]) == str(value).strip() for key, value in answers.items())

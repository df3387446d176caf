"""Business rules of the studies app: study lifecycle, entry and balanced assignment, saving answers.

Every function is keyword-only and runs in one transaction; invalid input raises
django.core.exceptions.ValidationError (with field names) and changes nothing.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from . import selectors
from .models import FREE_TEXT_MAX_LENGTH, Condition, Item, PageVisit, Participant, Response, ResponseRevision, Study

_INTEGER = re.compile(r"^\s*-?\d+\s*$")


class StudyUnavailable(Exception):
    """The study cannot take a new participant now; `reason` is one of draft, paused, closed, full."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ParticipantFinished(ValidationError):
    """A participant who has completed (or declined, or returned) tries to change answers."""


# --- study lifecycle -------------------------------------------------------------------------------


@transaction.atomic
def study_create(*, owner, **fields: Any) -> Study:
    return _validated_save(Study(owner=owner), fields)


def _validated_save(instance, data: dict[str, Any]):
    """Set ``data`` on ``instance``, validate the whole object (clean() holds the data-integrity rules), save."""
    for name, value in data.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def study_update(*, study: Study, data: dict[str, Any]) -> Study:
    return _validated_save(study, data)


def study_launch_problems(*, study: Study) -> dict[str, list[str]]:
    """Everything that keeps a study from going live, keyed by the field to fix."""
    problems: dict[str, list[str]] = {}
    conditions = list(study.conditions.select_related("stimulus_grid"))
    if not conditions:
        problems.setdefault("conditions", []).append("Add at least one condition.")
    for condition in conditions:
        if condition.stimulus_grid_id is not None and not condition.stimulus_grid.is_ready:
            problems.setdefault("conditions", []).append(
                f"Condition {condition.slug!r}: its stimulus grid is {condition.stimulus_grid.status}, not ready."
            )
        elif condition.stimulus_grid_id is None and not condition.stimulus_image:
            problems.setdefault("conditions", []).append(
                f"Condition {condition.slug!r} has no stimulus: link a ready grid or upload an image."
            )
    if not study.items.exists():
        problems.setdefault("items", []).append("Add at least one item.")
    if study.platform == Study.Platform.PROLIFIC and not study.completion_code:
        problems.setdefault("completion_code", []).append("Prolific studies need a completion code.")
    if study.status == Study.Status.CLOSED:
        problems.setdefault("status", []).append("A closed study cannot be launched again.")
    return problems


@transaction.atomic
def study_launch(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    problems = study_launch_problems(study=study)
    if problems:
        raise ValidationError(problems)
    study.status = Study.Status.LIVE
    study.launched_at = study.launched_at or timezone.now()
    study.save(update_fields=["status", "launched_at"])
    return study


@transaction.atomic
def study_pause(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status != Study.Status.LIVE:
        raise ValidationError({"status": f"Only a live study can be paused (this one is {study.status})."})
    study.status = Study.Status.PAUSED
    study.save(update_fields=["status"])
    return study


@transaction.atomic
def study_close(*, study: Study) -> Study:
    study = Study.objects.select_for_update().get(pk=study.pk)
    if study.status == Study.Status.CLOSED:
        raise ValidationError({"status": "The study is already closed."})
    study.status = Study.Status.CLOSED
    study.save(update_fields=["status"])
    return study


# --- conditions and items ------------------------------------------------------------------------


@transaction.atomic
def condition_create(*, study: Study, **fields: Any) -> Condition:
    return _validated_save(Condition(study=study), fields)


@transaction.atomic
def condition_update(*, condition: Condition, data: dict[str, Any]) -> Condition:
    return _validated_save(condition, data)


def condition_delete_problem(*, condition: Condition) -> str | None:
    if condition.participants.exists():
        return "Cannot delete this condition: participants were assigned to it. Close the study instead."
    if condition.items.exists():
        return "Cannot delete this condition while condition-specific items refer to it."
    return None


@transaction.atomic
def condition_delete(*, condition: Condition) -> None:
    problem = condition_delete_problem(condition=condition)
    if problem:
        raise ValidationError({"condition": problem})
    condition.delete()


@transaction.atomic
def item_create(*, study: Study, **fields: Any) -> Item:
    return _validated_save(Item(study=study), fields)


@transaction.atomic
def item_update(*, item: Item, data: dict[str, Any]) -> Item:
    return _validated_save(item, data)


def item_delete_problem(*, item: Item) -> str | None:
    if selectors.study_has_responses(study=item.study):
        return "Cannot delete an item of a study that already has responses: the collected data would lose meaning."
    return None


@transaction.atomic
def item_delete(*, item: Item) -> None:
    problem = item_delete_problem(item=item)
    if problem:
        raise ValidationError({"item": problem})
    item.delete()


# --- entry and assignment ------------------------------------------------------------------------


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
        existing = Participant.objects.filter(
            study=study, platform=identity.platform, external_id=identity.external_id
        ).first()
        if existing is not None:
            return participant_resume(participant=existing)
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
    participant.full_clean(exclude=["token"])
    try:
        with transaction.atomic():
            participant.save()
    except IntegrityError:
        # The same person arrived twice at once (two tabs): both get the one record.
        return Participant.objects.get(study=study, platform=identity.platform, external_id=identity.external_id)
    return participant


@transaction.atomic
def participant_resume(*, participant: Participant) -> Participant:
    """A participant came back: keep their record; returned or timed-out ones become active again."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if participant.status in (Participant.Status.RETURNED, Participant.Status.TIMED_OUT):
        participant.status = Participant.Status.ACTIVE
    participant.last_seen_at = timezone.now()
    participant.save(update_fields=["status", "last_seen_at"])
    return participant


def _choose_condition(*, study: Study, now: datetime, rng: random.Random | None,
                      is_simulated: bool = False) -> Condition:
    counts = selectors.condition_fill_counts(study=study, now=now, is_simulated=is_simulated)
    if not counts:
        raise StudyUnavailable("draft")
    lowest = min(counts.values())
    if study.target_per_condition is not None and lowest >= study.target_per_condition:
        raise StudyUnavailable("full")
    candidates = sorted(pk for pk, taken in counts.items() if taken == lowest)
    chosen = (rng or random.SystemRandom()).choice(candidates)
    return Condition.objects.get(pk=chosen)


def _item_order_for(participant: Participant, *, shuffle: bool, rng: random.Random | None) -> dict[str, list[str]]:
    order: dict[str, list[str]] = {}
    for page in selectors.QUESTION_PAGES:
        keys = list(selectors.participant_items(participant=participant, page=page).values_list("key", flat=True))
        if shuffle:
            (rng or random.SystemRandom()).shuffle(keys)
        order[page] = keys
    return order


def participant_assign(*, participant: Participant, rng: random.Random | None = None) -> Participant:
    """Give the participant the least-filled condition (ties at random) and fix their item order.

    The study row is locked (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers) so two
    concurrent arrivals cannot both count the same free place. Idempotent: an assigned participant keeps
    their condition.
    """
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=participant.study_id)
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if participant.condition_id is not None:
            return participant
        if participant.status != Participant.Status.ACTIVE:
            raise ParticipantFinished({"participant": "This session has ended."})
        if study.status != Study.Status.LIVE:
            raise StudyUnavailable(study.status)
        now = timezone.now()
        participant.condition = _choose_condition(study=study, now=now, rng=rng,
                                                  is_simulated=participant.is_simulated)
        participant.item_order = _item_order_for(participant, shuffle=study.randomize_items, rng=rng)
        participant.last_seen_at = now
        participant.save(update_fields=["condition", "item_order", "last_seen_at"])
        return participant


@transaction.atomic
def participant_decline(*, participant: Participant) -> Participant:
    """Consent refused: keep only the decline (and the platform id, so the person is not asked again)."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    if participant.status != Participant.Status.ACTIVE or participant.condition_id is not None:
        raise ParticipantFinished({"consent": "Consent was already given or this session has ended."})
    participant.status = Participant.Status.DECLINED
    participant.platform_session_id = ""
    participant.assignment_id = ""
    participant.hit_id = ""
    participant.turk_submit_to = ""
    participant.item_order = {}
    participant.current_page = "complete"
    participant.completed_at = timezone.now()
    participant.save()
    return participant


@transaction.atomic
def participant_mark_returned(*, participant: Participant) -> Participant:
    """The platform reports the participant returned the task: their place reopens."""
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
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


# --- answers -------------------------------------------------------------------------------------


def _parse_scale_value(item: Item, raw: Any) -> int:
    if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and _INTEGER.match(raw))):
        raise ValidationError(f"Choose one of the points 1 to {item.scale_points} (got {str(raw)[:20]!r}).")
    value = int(raw)
    if not 1 <= value <= item.scale_points:
        raise ValidationError(f"Choose one of the points 1 to {item.scale_points} (got {value}).")
    return value


def _parse_text_value(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValidationError("Answer with text.")
    if "\x00" in raw:  # PostgreSQL text columns cannot hold NUL
        raise ValidationError("Your answer contains a NUL character that cannot be stored; please retype it.")
    if len(raw) > FREE_TEXT_MAX_LENGTH:
        raise ValidationError(
            f"Please shorten your answer to at most {FREE_TEXT_MAX_LENGTH} characters (it has {len(raw)})."
        )
    return raw.strip()


def _is_blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def answers_validate(
    *, participant: Participant, page: str, answers: dict[str, Any], require_complete: bool
) -> dict[Item, Any]:
    """Check raw answers (item key -> value) for one page; returns {item: parsed value} for non-blank ones.

    Raises ValidationError keyed by item key for unknown items, items of another page, condition or
    study, out-of-range or non-integer scale values, oversized text and (if require_complete) missing
    required answers.
    """
    if not isinstance(answers, dict):
        raise ValidationError({"answers": "Send the answers as an object mapping item keys to values."})
    page_items = {item.key: item for item in selectors.participant_page_items(participant=participant, page=page)}
    errors: dict[str, str] = {}
    parsed: dict[Item, Any] = {}
    for key, raw in answers.items():
        item = page_items.get(key)
        if item is None:
            errors[str(key)[:60]] = "Unknown item: it is not part of this page of your study."
            continue
        if _is_blank(raw):
            continue
        try:
            parsed[item] = _parse_text_value(raw) if item.kind == Item.Kind.FREE_TEXT else _parse_scale_value(item, raw)
        except ValidationError as error:
            errors[key] = error.messages[0]
    if require_complete:
        answered = set(selectors.participant_answers(participant=participant))
        for key, item in page_items.items():
            given = item in parsed or (key in answered and key not in answers)
            if item.required and not given:
                errors.setdefault(key, "Please answer this question.")
    if errors:
        raise ValidationError(errors)
    return parsed


def _ensure_can_answer(participant: Participant) -> None:
    if participant.status != Participant.Status.ACTIVE:
        raise ParticipantFinished({"participant": "This session has ended; answers can no longer be changed."})
    if participant.condition_id is None:
        raise ParticipantFinished({"participant": "Please give your consent first."})


def responses_save(
    *, participant: Participant, page: str, answers: dict[str, Any], require_complete: bool = False
) -> list[Response]:
    """Validate and store answers of one page. A changed answer keeps its previous values as revisions."""
    with transaction.atomic():
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        _ensure_can_answer(participant)
        parsed = answers_validate(
            participant=participant, page=page, answers=answers, require_complete=require_complete
        )
        existing = {r.item_id: r for r in Response.objects.filter(participant=participant, item__in=list(parsed))}
        saved = []
        for item, value in parsed.items():
            is_text = item.kind == Item.Kind.FREE_TEXT
            fields = {"value_text": value, "value_int": None} if is_text else {"value_int": value, "value_text": ""}
            response = existing.get(item.pk)
            if response is None:
                response = Response.objects.create(participant=participant, item=item, **fields)
            elif (response.value_int, response.value_text) == (fields["value_int"], fields["value_text"]):
                saved.append(response)
                continue
            else:
                for name, field_value in fields.items():
                    setattr(response, name, field_value)
                response.save(update_fields=["value_int", "value_text", "updated_at"])
            ResponseRevision.objects.create(response=response, page=page, **fields)
            saved.append(response)
        participant.last_seen_at = timezone.now()
        participant.save(update_fields=["last_seen_at"])
        return saved


# --- navigation and page timing ------------------------------------------------------------------


def page_visit_open(*, participant: Participant, page: str) -> PageVisit:
    """Start timing a page; a reload continues the open visit instead of starting a second one."""
    visit = PageVisit.objects.filter(participant=participant, page=page, left_at__isnull=True).last()
    if visit is None:
        visit = PageVisit.objects.create(participant=participant, page=page, entered_at=timezone.now())
    return visit


def page_visit_close(*, participant: Participant, page: str, now: datetime | None = None) -> None:
    now = now or timezone.now()
    for visit in PageVisit.objects.filter(participant=participant, page=page, left_at__isnull=True):
        visit.left_at = now
        visit.seconds = max((now - visit.entered_at).total_seconds(), 0.0)
        visit.save(update_fields=["left_at", "seconds"])


def _attention_failed(participant: Participant) -> bool:
    checks = selectors.participant_items(participant=participant).filter(kind=Item.Kind.ATTENTION_CHECK)
    given = {r.item_id: r.value_int for r in participant.responses.filter(item__in=checks)}
    return any(given.get(item.pk) != item.expected_answer for item in checks)


def participant_navigate(
    *, participant: Participant, page: str, answers: dict[str, Any], direction: str
) -> Participant:
    """Leave `page` forwards (answers must be complete) or backwards (answers kept as far as they are valid).

    Raises ValidationError (nothing stored) for bad answers, a stale page or a finished session.
    Leaving the last question page forwards completes the study.
    """
    if direction not in ("next", "back"):
        raise ValidationError({"action": "Unknown action."})
    with transaction.atomic():
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        _ensure_can_answer(participant)
        if page != participant.current_page:
            raise ValidationError({"page": "This page is out of date; you were taken to where you left off."})
        pages = selectors.participant_pages(participant=participant)
        index = pages.index(page)
        if page in selectors.QUESTION_PAGES:
            responses_save(
                participant=participant, page=page, answers=answers, require_complete=direction == "next"
            )
        if direction == "next" and page == Item.Page.STIMULUS and participant.study.min_stimulus_seconds:
            seen = selectors.participant_seconds_on_page(participant=participant, page=page)
            if seen < participant.study.min_stimulus_seconds:
                raise ValidationError(
                    {"page": f"Please study the images for at least {participant.study.min_stimulus_seconds} "
                     f"seconds before you go on ({int(seen)} s so far)."}
                )
        now = timezone.now()
        page_visit_close(participant=participant, page=page, now=now)
        target = pages[max(index - 1, 1)] if direction == "back" else pages[index + 1]
        participant.current_page = target
        participant.last_seen_at = now
        if target == "complete":
            participant.attention_failed = _attention_failed(participant)
            participant.status = (
                Participant.Status.FAILED_ATTENTION if participant.attention_failed else Participant.Status.COMPLETED
            )
            participant.completed_at = now
        participant.save()
        return participant


def participant_consent(*, participant: Participant, agreed: bool, rng: random.Random | None = None) -> Participant:
    """Consent page: agreeing assigns a condition and moves on, declining ends the session."""
    if participant.current_page != "consent" and participant.condition_id is None:
        raise ValidationError({"page": "This page is out of date."})
    if not agreed:
        return participant_decline(participant=participant)
    participant = participant_assign(participant=participant, rng=rng)
    with transaction.atomic():
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if participant.current_page == "consent":
            page_visit_close(participant=participant, page="consent")
            participant.current_page = "instructions"
            participant.save(update_fields=["current_page"])
    return participant


def completion_code(*, participant: Participant) -> str:
    study = participant.study
    if participant.attention_failed and study.attention_fail_code:
        return study.attention_fail_code
    return study.completion_code


@transaction.atomic
def study_delete(*, study: Study) -> None:
    """Only a study nobody has taken part in can be deleted; otherwise close it."""
    if study.participants.exists():
        raise ValidationError({"study": "Cannot delete a study that has participants (their data would be lost). "
                               "Close it instead."})
    study.delete()

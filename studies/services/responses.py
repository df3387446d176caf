"""A participant's answers: parsing and validating them per page, storing them with their revisions.

Invalid input raises django.core.exceptions.ValidationError keyed by item and changes nothing.
"""
from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from studies import selectors
from studies.designs.registry import design_for
from studies.models import FREE_TEXT_MAX_LENGTH, Item, Participant, Response, ResponseRevision

from .exceptions import PageOutOfDate, ParticipantFinished
from .locks import participant_lock

_INTEGER = re.compile(r"^\s*-?\d+\s*$")


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
    *, participant: Participant, page: str, answers: dict[str, Any], require_complete: bool,
    stored: dict[str, Any] | None = None,
) -> dict[Item, Any]:
    """Check raw answers (item key -> value) for one page; returns {item: parsed value} for non-blank ones.

    Raises ValidationError keyed by item key for unknown items, items of another page, condition or
    study, out-of-range or non-integer scale values, oversized text and (if require_complete) missing
    required answers. ``stored`` (the participant's current answers by item key) saves reading them again.
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
        answered = set(selectors.participant_answers(participant=participant) if stored is None else stored)
        for key, item in page_items.items():
            given = item in parsed or (key in answered and key not in answers)
            if item.required and not given:
                errors.setdefault(key, "Please answer this question.")
    if errors:
        raise ValidationError(errors)
    return parsed


def ensure_can_answer(participant: Participant) -> None:
    if participant.status != Participant.Status.ACTIVE:
        raise ParticipantFinished({"participant": "This session has ended; answers can no longer be changed."})
    if not design_for(participant.study).has_allocation(participant=participant):
        raise ParticipantFinished({"participant": "Please give your consent first."})


def responses_save(
    *, participant: Participant, page: str, answers: dict[str, Any], require_complete: bool = False
) -> list[Response]:
    """Validate and store answers of one page. A changed answer keeps its previous values as revisions."""
    with transaction.atomic():
        participant = participant_lock(participant)
        ensure_can_answer(participant)
        return responses_store(participant=participant, page=page, answers=answers, require_complete=require_complete)


def responses_by_item(participant: Participant) -> dict[int, Response]:
    """Every answer the participant has given, by item primary key."""
    return {r.item_id: r for r in Response.objects.filter(participant=participant).order_by()}


def responses_store(
    *, participant: Participant, page: str, answers: dict[str, Any], require_complete: bool = False,
    touch: bool = True, existing: dict[int, Response] | None = None,
) -> list[Response]:
    """responses_save for a caller that holds the participant's lock (participant_lock) in its transaction
    and has checked ensure_can_answer.

    A page's answers are written together: new ones in one INSERT, changed ones in one UPDATE, and one
    revision per new or changed answer in one INSERT (revisions are only ever appended). ``touch=False``
    leaves ``last_seen_at`` to a caller that saves the participant anyway. ``existing`` (responses_by_item,
    read under the same lock) saves reading the answers again; it is brought up to date with what is stored.
    """
    if existing is None:
        existing = responses_by_item(participant)
    items_by_pk = {item.pk: item for item in selectors.participant_page_items(participant=participant, page=page)}
    stored = {}
    for item_id, response in existing.items():
        item = items_by_pk.get(item_id)
        if item is not None:
            stored[item.key] = response.value_text if item.kind == Item.Kind.FREE_TEXT else response.value_int
    parsed = answers_validate(participant=participant, page=page, answers=answers,
                              require_complete=require_complete, stored=stored)
    now = timezone.now()
    created, changed, saved = [], [], []
    for item, value in parsed.items():
        is_text = item.kind == Item.Kind.FREE_TEXT
        value_int, value_text = (None, value) if is_text else (value, "")
        response = existing.get(item.pk)
        if response is None:
            response = Response(participant=participant, item=item, value_int=value_int, value_text=value_text)
            created.append(response)
        elif (response.value_int, response.value_text) != (value_int, value_text):
            response.value_int, response.value_text, response.updated_at = value_int, value_text, now
            changed.append(response)
        saved.append(response)
    if created:
        Response.objects.bulk_create(created)
        if any(response.pk is None for response in created):  # a database that returns no ids on insert
            ids = dict(Response.objects.filter(participant=participant, item__in=[r.item_id for r in created])
                       .values_list("item_id", "pk"))
            for response in created:
                response.pk = ids[response.item_id]
    if changed:
        Response.objects.bulk_update(changed, ["value_int", "value_text", "updated_at"])
    existing.update((response.item_id, response) for response in created)
    if created or changed:
        ResponseRevision.objects.bulk_create([
            ResponseRevision(response=response, page=page, value_int=response.value_int,
                             value_text=response.value_text)
            for response in (*created, *changed)])
    if touch:
        participant.last_seen_at = now
        participant.save(update_fields=["last_seen_at"])
    return saved


def responses_autosave(*, participant: Participant, page: str, answers: dict[str, Any]) -> list[Response]:
    """Save answers while the participant is still on `page` (the page saves each answer as it is given).

    Raises ValidationError for a page without questions and PageOutOfDate for a page an active participant
    has not reached yet; otherwise as responses_save.
    """
    if page not in selectors.QUESTION_PAGES:
        raise ValidationError({"page": "This page has no questions."})
    if participant.status == Participant.Status.ACTIVE and page != participant.current_page:
        # A page left earlier (reached again with the browser's Back button) still saves; a later one not.
        pages = design_for(participant.study).pages(participant=participant)
        reached = participant.current_page in pages and page in pages and (
            pages.index(page) < pages.index(participant.current_page))
        if not reached:
            raise PageOutOfDate({"page": "This page is out of date; reload to continue."})
    return responses_save(participant=participant, page=page, answers=answers)


def submission_is_retry(*, participant: Participant, answers: dict[str, Any], direction: str) -> bool:
    """Whether a submission carries exactly the answers already stored for its items: a network retry of a
    submission that went through but whose response was lost on the way back. Going back is never one."""
    if not answers or direction == "back":
        return False
    stored = selectors.participant_answers(participant=participant)

    def same(key: str, value: Any) -> bool:
        before = stored.get(key)
        before = "" if before is None else str(before).strip()
        return before == str(value).strip()

    return all(same(key, value) for key, value in answers.items())

"""Response exports: the one implementation behind the admin actions, the researcher API (and the
dashboard's links to it) and ``manage.py export_responses``.

Every path gives the same columns and applies the same default: participants who reached the end of the
study (completed, or failed an attention check, which the attention_failed column flags) and who are real
people, so that a file downloaded for analysis cannot silently mix in bots or half-finished sessions.
``include_unfinished`` adds participants who are still active or who returned, declined or timed out;
``include_simulated`` adds simulated participants (flagged in is_simulated). Who may export is checked by
the caller: the study's owner or a superuser.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from studies.models import Item, Participant, Study
from studies.selectors import items_in_presentation_order

from .. import selectors
from ..spreadsheet import csv_cell

EXPORT_FORMATS = ("long", "wide", "json", "codebook")
JSON_FORMAT_VERSION = 1

PARTICIPANT_COLUMNS = ["participant", "condition", "status", "is_simulated", "attention_failed", "excluded_reason",
                       "stimulus_seconds", "started_at", "completed_at"]
#: The recruiting platform's ids: what the owner needs to approve, reject or pay a submission. Only in the
#: owner's identified export (``identified``), right after the pseudonym; the default export is the one to
#: share. The pseudonyms are the same in both, so the identified file is the mapping, kept on the server.
IDENTITY_COLUMNS = ["platform", "platform_participant_id", "platform_submission_id"]
ANSWER_COLUMNS = ["item", "group", "kind", "page", "scale_points", "reverse_coded", "value", "answered_at",
                  "expected_answer"]
LONG_COLUMNS = [*PARTICIPANT_COLUMNS, *ANSWER_COLUMNS]

COLUMN_MEANINGS = {
    "participant": "pseudonym of the participant within the study (P0001, P0002, ... in order of arrival; neither "
                   "the platform id nor a database id)",
    "condition": "condition slug the participant was assigned to (empty if none yet)",
    "status": "participant status: " + ", ".join(Participant.Status.values),
    "is_simulated": "true for simulated participants (left out unless include_simulated)",
    "attention_failed": "true when the participant failed an attention check",
    "excluded_reason": "why the researcher excluded the participant from analyses (empty = not excluded)",
    "stimulus_seconds": "seconds on the stimulus page, summed over visits (empty if never shown)",
    "started_at": "ISO 8601 UTC",
    "completed_at": "ISO 8601 UTC, empty if not completed",
    "item": "item key (long format; the wide format has one column per item key instead)",
    "group": "item group (e.g. pattern, satisfaction, attention)",
    "kind": "item kind: " + ", ".join(Item.Kind.values),
    "page": "page the item is asked on: " + ", ".join(Item.Page.values),
    "scale_points": "number of scale points for Likert items and attention checks, empty for free text",
    "reverse_coded": "true for reverse-keyed items (the value is raw; analyses recode it)",
    "value": "answer: the scale point for Likert items and attention checks (raw, not reverse-coded), the "
             "text for free-text items",
    "answered_at": "ISO 8601 UTC time the current answer was saved (earlier answers are in the revision history)",
    "expected_answer": "for attention checks, the scale point careful participants pick (empty otherwise)",
}

IDENTITY_COLUMN_MEANINGS = {
    "platform": "recruiting platform: " + ", ".join(Study.Platform.values),
    "platform_participant_id": "the platform's participant id: PROLIFIC_PID on Prolific, workerId on MTurk (only in "
                               "the owner's identified export)",
    "platform_submission_id": "the platform's id of this attempt: SESSION_ID on Prolific, assignmentId on MTurk "
                              "(only in the owner's identified export)",
}

TRUE_WORDS = ("1", "true", "yes", "on")


class ExportError(ValueError):
    """The export cannot be made as asked (e.g. an unknown format); the message says why."""


class ExportFile(NamedTuple):
    content: str
    content_type: str
    filename: str


def is_true(value: Any) -> bool:
    """A flag from a query parameter or form field: "1", "true", "yes" or "on" (any case)."""
    return str(value or "").strip().lower() in TRUE_WORDS


def export_flags(params: Mapping[str, Any]) -> dict[str, bool]:
    """include_simulated / include_unfinished from query parameters or form data."""
    return {name: is_true(params.get(name)) for name in ("include_simulated", "include_unfinished")}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _answer(item: Item, value_int: int | None, value_text: str) -> int | str:
    # A stored text in a scaled item is passed on rather than hidden, so the file shows what was saved.
    if item.kind == Item.Kind.FREE_TEXT or value_int is None:
        return value_text
    return value_int


VALUE = ANSWER_COLUMNS.index("value")


def participant_pseudonyms(study: Study) -> dict[int, str]:
    """Participant id -> "P0001", ... numbered in order of arrival over all the study's participants, so a
    participant keeps the same pseudonym in every export whatever its filters (and no id leaves the server)."""
    ordered = Participant.objects.filter(study=study).order_by("started_at", "pk").values_list("pk", flat=True)
    return {pk: f"P{number:04d}" for number, pk in enumerate(ordered, start=1)}


def participant_columns(*, identified: bool) -> list[str]:
    """The participant columns of an export: the owner's identified one adds the platform ids."""
    return [PARTICIPANT_COLUMNS[0], *IDENTITY_COLUMNS, *PARTICIPANT_COLUMNS[1:]] if identified else PARTICIPANT_COLUMNS


def long_columns(*, identified: bool) -> list[str]:
    return [*participant_columns(identified=identified), *ANSWER_COLUMNS]


def _identity(participant: dict[str, Any]) -> tuple[str, str, str]:
    submission = participant["assignment_id"] if participant["platform"] == Study.Platform.MTURK else (
        participant["platform_session_id"])
    return participant["platform"], participant["external_id"], submission


def _participants(
    study: Study, *, include_simulated: bool, include_unfinished: bool, identified: bool = False
) -> Iterator[tuple[tuple, list[tuple]]]:
    """(participant_columns() values, [ANSWER_COLUMNS values per answered item, in presentation order]) per
    participant.

    Tuples rather than dicts: a study of 10 000 participants has 120 000 answers, and the long CSV is
    written straight from them.
    """
    data = selectors.study_data(
        study=study, include_simulated=include_simulated, include_unfinished=include_unfinished, answer_times=True
    )
    slugs = {condition.pk: condition.slug for condition in data.conditions}
    pseudonyms = participant_pseudonyms(study)
    item_columns = [
        (item, (item.key, item.group, item.kind, item.page, item.scale_points if item.is_scaled else None,
                item.reverse_coded))
        for item in items_in_presentation_order(study=study)
    ]
    for participant in data.participants:
        pk = participant["pk"]
        columns = (
            pseudonyms[pk],
            *(_identity(participant) if identified else ()),
            slugs.get(participant["condition_id"], ""),
            participant["status"],
            participant["is_simulated"],
            participant["attention_failed"],
            participant["excluded_reason"],
            data.stimulus_seconds.get(pk),
            _iso(participant["started_at"]),
            _iso(participant["completed_at"]),
        )
        stored = data.responses.get(pk, {})
        times = data.answered_at.get(pk, {})
        answers = [
            (*described, _answer(item, *stored[item.pk]), _iso(times.get(item.pk)), item.expected_answer)
            for item, described in item_columns
            if item.pk in stored
        ]
        yield columns, answers


def _long_rows(study: Study, **flags: bool) -> Iterator[tuple]:
    for columns, answers in _participants(study, **flags):
        for answer in answers:
            yield columns + answer


def response_rows(
    *, study: Study, include_simulated: bool = False, include_unfinished: bool = False, identified: bool = False
) -> list[dict[str, Any]]:
    """One dict per answer with long_columns() ("long" format), ready for analysis or an API response."""
    columns = long_columns(identified=identified)
    return [
        dict(zip(columns, row, strict=True))
        for row in _long_rows(study, include_simulated=include_simulated, include_unfinished=include_unfinished,
                              identified=identified)
    ]


def codebook(*, study: Study, include_simulated: bool = False, include_unfinished: bool = False,
             identified: bool = False) -> dict[str, Any]:
    """What every column and value of the exports means, and which participants an export holds."""
    items = items_in_presentation_order(study=study).select_related("condition")
    return {
        "study": study.slug,
        "participants_included": {
            "rule": "participants who reached the end (status completed or failed_attention) and are real, "
                    "unless include_unfinished / include_simulated say otherwise",
            "include_unfinished": include_unfinished,
            "include_simulated": include_simulated,
        },
        "identified": identified,
        "columns": {name: {**COLUMN_MEANINGS, **IDENTITY_COLUMN_MEANINGS}[name]
                    for name in long_columns(identified=identified)},
        "conditions": [{"slug": c.slug, "name": c.name} for c in study.conditions.order_by("order", "pk")],
        "items": [
            {
                "key": item.key, "text": item.text, "kind": item.kind, "group": item.group, "page": item.page,
                "scale_points": item.scale_points if item.is_scaled else None,
                "anchor_low": item.anchor_low if item.is_scaled else None,
                "anchor_high": item.anchor_high if item.is_scaled else None,
                "labels": item.labels or None, "reverse_coded": item.reverse_coded,
                "expected_answer": item.expected_answer,
                "condition": item.condition.slug if item.condition_id else None,
            }
            for item in items
        ],
    }


def _csv(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    # Written by position, not by name: an item may be keyed like a participant column ("status").
    # Every cell, header included, is neutralised: free text and item keys come from outside.
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(name) for name in header])
    writer.writerows([csv_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def responses_export(
    *, study: Study, fmt: str, include_simulated: bool = False, include_unfinished: bool = False,
    identified: bool = False,
) -> ExportFile:
    """The study's responses as long CSV (one row per answer), wide CSV (one row per participant), JSON
    (participants with their answers and the codebook) or the codebook alone.

    Participants appear under their pseudonym; ``identified`` (the owner's file, to approve, reject or pay on
    the platform) adds the platform ids beside it."""
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
    flags = {"include_simulated": include_simulated, "include_unfinished": include_unfinished}
    stem = f"{study.slug}-responses" + ("-identified" if identified else "")
    if fmt == "codebook":
        content = json.dumps(codebook(study=study, **flags, identified=identified), indent=2, ensure_ascii=False)
        return ExportFile(content, "application/json", f"{study.slug}-codebook.json")
    columns = participant_columns(identified=identified)
    if fmt == "long":
        return ExportFile(_csv([*columns, *ANSWER_COLUMNS], _long_rows(study, **flags, identified=identified)),
                          "text/csv; charset=utf-8", f"{stem}-long.csv")
    participants = _participants(study, **flags, identified=identified)
    if fmt == "json":
        payload = {
            "format_version": JSON_FORMAT_VERSION,
            "codebook": codebook(study=study, **flags, identified=identified),
            **flags,
            "identified": identified,
            "participants": [
                {**dict(zip(columns, values, strict=True)),
                 "responses": {answer[0]: answer[VALUE] for answer in answers}}
                for values, answers in participants
            ],
        }
        return ExportFile(json.dumps(payload, indent=2, ensure_ascii=False), "application/json", f"{stem}.json")
    # Columns in the order participants answer the items (page by page), not alphabetically by page.
    item_keys = list(items_in_presentation_order(study=study).values_list("key", flat=True))

    def wide_rows() -> Iterator[tuple]:
        for values, answers in participants:
            given = {answer[0]: answer[VALUE] for answer in answers}
            yield values + tuple(given.get(key) for key in item_keys)

    return ExportFile(_csv([*columns, *item_keys], wide_rows()), "text/csv; charset=utf-8", f"{stem}-wide.csv")
